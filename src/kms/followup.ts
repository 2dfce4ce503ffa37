/**
 * Client-side follow-up on a job's escrowed keys: status (without consuming
 * anything), rewrap (fresh credentials before the old ones expire) and revoke
 * (delete the secrets and revoke whatever is left).
 */
import { SealbatchError } from "../util/errors.ts";
import { credentialsOf, discardCredential } from "./escrow.ts";
import type { Credentials } from "./credentials.ts";
import { type JobKeyRecord, updateRecord } from "./job_record.ts";
import type { VaultClient } from "./vault_client.ts";

export type CredentialState = "unused" | "used" | "expired" | "revoked";

export interface KeyStatus {
  name: string;
  state: CredentialState;
  expires_at: string;
  /** Used although the job had not started: someone else holds the key. */
  interception: boolean;
}

export interface JobKeyStatus {
  job: string;
  mode: string;
  keys: KeyStatus[];
  interception: boolean;
}

/**
 * The state of each credential, from `sys/wrapping/lookup` (which does not
 * consume it). Vault answers the same for used and expired tokens, so the
 * expiry in the record tells them apart. `jobStarted` false means the job is
 * known not to have started (for example still PENDING in Slurm).
 */
export async function keyStatus(
  vault: VaultClient,
  record: JobKeyRecord,
  opts: { jobStarted?: boolean; now?: number } = {},
): Promise<JobKeyStatus> {
  const now = opts.now ?? Date.now();
  const started = opts.jobStarted ?? (record.started_at !== undefined ? true : undefined);
  const keys: KeyStatus[] = [];
  for (const k of record.keys) {
    let state: CredentialState;
    if (record.revoked_at) state = "revoked";
    else {
      const info = await vault.wrapLookup(k.token);
      state = info ? "unused" : now >= Date.parse(k.expires_at) ? "expired" : "used";
    }
    keys.push({
      name: k.name,
      state,
      expires_at: k.expires_at,
      interception: state === "used" && started === false,
    });
  }
  return {
    job: record.job,
    mode: record.mode,
    keys,
    interception: keys.some((k) => k.interception),
  };
}

/**
 * Replace every credential with a fresh one of the same TTL (the old tokens
 * stop working). Refused, changing nothing, when any credential was already
 * used or has expired.
 */
export async function rewrapJob(
  vault: VaultClient,
  stateDir: string,
  record: JobKeyRecord,
): Promise<{ credentials: Credentials; record: JobKeyRecord; rewrapped: string[] }> {
  if (record.revoked_at) {
    throw new SealbatchError(
      "kms",
      `cannot rewrap the keys of job "${record.job}": they were revoked`,
    );
  }
  // All credentials are checked first, so a refusal leaves every token as it was.
  const stale: string[] = [];
  for (const k of record.keys) {
    if (!(await vault.wrapLookup(k.token))) stale.push(k.name);
  }
  if (stale.length > 0) {
    throw new SealbatchError(
      "intercepted",
      `cannot rewrap the credentials of job "${record.job}" for ${
        stale.map((s) => `"${s}"`).join(", ")
      }: already used or expired`,
      {
        hint:
          `check \`sealbatch keys status --job ${record.job}\`; if the job has not run, revoke its keys`,
      },
    );
  }
  const keys = [];
  for (const k of record.keys) {
    const wrap = await vault.rewrap(k.token);
    const created = Date.parse(wrap.creation_time);
    keys.push({
      ...k,
      token: wrap.token,
      accessor: wrap.accessor,
      expires_at: new Date((Number.isNaN(created) ? Date.now() : created) + wrap.ttl * 1000)
        .toISOString(),
    });
  }
  const updated: JobKeyRecord = {
    ...record,
    keys,
    expires_at: keys.map((k) => k.expires_at).sort()[0]!,
  };
  await updateRecord(stateDir, updated);
  return {
    credentials: credentialsOf(updated),
    record: updated,
    rewrapped: keys.map((k) => k.name),
  };
}

/**
 * Delete the job's secrets and make its unused credentials worthless;
 * idempotent. Needs only delete rights on the job's KV metadata paths.
 */
export async function revokeJob(
  vault: VaultClient,
  stateDir: string,
  record: JobKeyRecord,
): Promise<{ deleted: string[]; revoked: number }> {
  let revoked = 0;
  const deleted: string[] = [];
  for (const k of record.keys) {
    if (await discardCredential(vault, k.token)) revoked++;
    else if (k.inner_accessor) {
      // A reference-mode token unwrapped by the node may have a use left; revoking it needs
      // revoke-accessor rights, so this is best effort (its TTL ends it anyway).
      await vault.revokeAccessor(k.inner_accessor).catch(() => false);
    }
    await vault.kvDeleteMetadata(record.mount, k.kv_path);
    deleted.push(k.path);
  }
  await updateRecord(stateDir, { ...record, revoked_at: new Date().toISOString() });
  return { deleted, revoked };
}
