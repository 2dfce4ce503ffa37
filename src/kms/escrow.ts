/**
 * Key escrow for one job: store each key in Vault and hand back credentials
 * that one job can use once, before they expire, to get exactly its keys.
 *
 * - job-scoped (default): each key at `<mount>/data/sealbatch/<user>/<job>/<name>`
 *   (written with cas=0, so an existing secret is never replaced), delivered
 *   as a response-wrapped read of exactly that path; needs no rights to write
 *   policies or create tokens.
 * - reference: keys at `<mount>/data/<user>/<name>` (field `key`), each with a
 *   use-limited token of a site-given policy, wrapped with X-Vault-Wrap-TTL,
 *   so the reference node scripts' `vault unwrap -field=token` and
 *   `vault kv get -field=key` work.
 *
 * A job of N > 1 nodes (job-scoped only) gets each key N times, at
 * `.../<job>/n<I>/<name>`, one credential per node and key (see credentials.ts).
 *
 * Inputs are validated before anything is sent; on failure or interruption
 * everything already created in Vault is removed again.
 */
import { inputError, q, SealbatchError, usageError } from "../util/errors.ts";
import { onCleanup } from "../util/cleanup.ts";
import { readSecretFile } from "../util/secret_file.ts";
import { NAME_RE } from "../util/user.ts";
import {
  checkKeyName,
  type Credentials,
  encodeKey,
  type KeyMode,
  MAX_NODES,
  nodeKeySuffix,
} from "./credentials.ts";
import {
  type JobKeyRecord,
  recordExists,
  type RecordKey,
  recordPath,
  writeNewRecord,
} from "./job_record.ts";
import { type VaultClient, VaultError, type WrapInfo } from "./vault_client.ts";

/** Uses for a reference-mode token: `vault kv get` makes a mount lookup before the read. */
export const REFERENCE_TOKEN_USES = 2;
/** A reference-mode token outlives its wrapping by this much, so a late unwrap can still read. */
const REFERENCE_TOKEN_GRACE_S = 3600;
const MAX_KEY_BYTES = 64 * 1024;

export interface EscrowRequest {
  job: string;
  user: string;
  keys: { name: string; file: string }[];
  mode: KeyMode;
  /** Reference mode: the policy the site grants to job tokens. */
  policy?: string;
  wrapTtlMs: number;
  mount: string;
  stateDir: string;
  /** Nodes of the job (default 1): each gets credentials of its own. */
  nodes?: number;
  /**
   * Secrets already at this job's paths are what an earlier attempt of this
   * very escrow left when it was killed before it could save its record (the
   * caller knows it began one): they are deleted and written afresh.
   */
  replaceLeftovers?: boolean;
}

export interface EscrowResult {
  credentials: Credentials;
  record: JobKeyRecord;
  recordPath: string;
}

/** The KV path of a key; `node` for the per-node copies of a multi-node job. */
export function kvPathFor(
  mode: KeyMode,
  user: string,
  job: string,
  name: string,
  node?: number,
): string {
  if (mode === "reference") return `${user}/${name}`;
  return node === undefined
    ? `sealbatch/${user}/${job}/${name}`
    : `sealbatch/${user}/${job}${nodeKeySuffix(node, name)}`;
}

/** Check everything that can be checked without Vault; returns the key bytes. */
async function validate(req: EscrowRequest): Promise<{ name: string; bytes: Uint8Array }[]> {
  if (!NAME_RE.test(req.job)) throw inputError(`invalid job id ${q(req.job)}`);
  if (!NAME_RE.test(req.user)) throw inputError(`invalid user name ${q(req.user)}`);
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(req.mount)) {
    throw inputError(`invalid KV mount ${q(req.mount)}`);
  }
  if (req.keys.length === 0) throw usageError("no key to escrow", { hint: "give --key NAME=FILE" });
  if (req.mode === "reference" && !req.policy) {
    throw usageError("reference mode needs the site's policy name", { hint: "give --policy NAME" });
  }
  if (req.mode !== "reference" && req.policy) {
    throw usageError("--policy is only used in reference mode", { hint: "add --mode reference" });
  }
  const nodes = req.nodes ?? 1;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
    throw inputError(`invalid number of nodes ${nodes}: expected 1-${MAX_NODES}`);
  }
  if (nodes > 1 && req.mode === "reference") {
    throw usageError("a job of several nodes needs job-scoped keys", {
      hint: "reference mode has one token per key, not one per node; use --mode job-scoped",
    });
  }
  if (req.policy !== undefined && !NAME_RE.test(req.policy)) {
    throw inputError(`invalid policy name ${q(req.policy)}`);
  }
  const ttlS = Math.floor(req.wrapTtlMs / 1000);
  if (ttlS < 60 || ttlS > 32 * 86400) {
    throw inputError("invalid wrap TTL: expected between 1m and 768h", {
      hint: "the credentials must outlive the job's wait in the queue, for example 72h",
    });
  }
  const seen = new Set<string>();
  for (const k of req.keys) {
    checkKeyName(k.name);
    if (seen.has(k.name)) throw usageError(`key name ${q(k.name)} is given twice`);
    seen.add(k.name);
  }
  if (await recordExists(req.stateDir, req.job)) {
    throw inputError(
      `keys for job ${q(req.job)} were already escrowed (${recordPath(req.stateDir, req.job)})`,
      {
        hint: `use another job id, or run \`sealbatch keys revoke --job ${req.job}\` first`,
      },
    );
  }
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (const k of req.keys) {
    const bytes = await readSecretFile(k.file, {
      label: `key file for ${q(k.name)}`,
      maxBytes: MAX_KEY_BYTES,
    });
    if (bytes.length === 0) throw inputError(`key file ${q(k.file)} is empty`);
    if (req.mode === "reference" && encodeKey(bytes).encoding !== undefined) {
      throw inputError(`key file ${q(k.file)} is binary; reference mode stores keys as text`, {
        hint:
          "the reference node scripts read the field with `vault kv get -field=key`; use job-scoped mode",
      });
    }
    out.push({ name: k.name, bytes });
  }
  return out;
}

const isCasConflict = (err: unknown) =>
  err instanceof SealbatchError && /check-and-set/.test(err.message);

export async function escrowJob(vault: VaultClient, req: EscrowRequest): Promise<EscrowResult> {
  const keys = await validate(req);
  const ttlS = Math.floor(req.wrapTtlMs / 1000);
  const written: string[] = [];
  const tokens: string[] = [];
  const undo = async () => {
    for (const token of tokens) await discardCredential(vault, token).catch(() => {});
    for (const path of written) await vault.kvDeleteMetadata(req.mount, path).catch(() => {});
  };
  const rollback = onCleanup(undo);
  try {
    const entries: RecordKey[] = [];
    const nodes = req.nodes ?? 1;
    // One credential per key, or per key and node (each node its own copy of the key).
    type Slot = { name: string; bytes: Uint8Array; node: number | undefined };
    const slots = keys.flatMap((k): Slot[] =>
      nodes === 1
        ? [{ ...k, node: undefined }]
        : Array.from({ length: nodes }, (_, node) => ({ ...k, node }))
    );
    for (const { name, bytes, node } of slots) {
      const kvPath = kvPathFor(req.mode, req.user, req.job, name, node);
      const apiPath = `${req.mount}/data/${kvPath}`;
      let wrap: WrapInfo;
      if (req.mode === "job-scoped") {
        const write = () => vault.kvWrite(req.mount, kvPath, encodeKey(bytes), { cas: 0 });
        try {
          await write().catch(async (err) => {
            if (!req.replaceLeftovers || !isCasConflict(err)) throw err;
            await vault.kvDeleteMetadata(req.mount, kvPath);
            await write();
          });
        } catch (err) {
          if (isCasConflict(err)) {
            throw new SealbatchError(
              "kms",
              `cannot escrow key ${q(name)}: a secret already exists at ${q(apiPath)}`,
              {
                hint: `a job with id ${
                  q(req.job)
                } was escrowed before; revoke it or use another job id`,
              },
            );
          }
          throw err;
        }
        written.push(kvPath);
        wrap = await vault.kvReadWrapped(req.mount, kvPath, ttlS);
      } else {
        await vault.kvWrite(req.mount, kvPath, encodeKey(bytes));
        written.push(kvPath);
        wrap = await vault.tokenCreateWrapped({
          policies: [req.policy!],
          num_uses: REFERENCE_TOKEN_USES,
          ttl: `${ttlS + REFERENCE_TOKEN_GRACE_S}s`,
          explicit_max_ttl: `${ttlS + REFERENCE_TOKEN_GRACE_S}s`,
          renewable: false,
          display_name: `sealbatch-${req.job}-${name}`,
          meta: { job: req.job, key: name, user: req.user },
        }, ttlS);
      }
      tokens.push(wrap.token);
      const created = Date.parse(wrap.creation_time);
      const expires = new Date((Number.isNaN(created) ? Date.now() : created) + wrap.ttl * 1000);
      entries.push({
        name,
        kv_path: kvPath,
        path: apiPath,
        token: wrap.token,
        accessor: wrap.accessor,
        creation_path: wrap.creation_path,
        expires_at: expires.toISOString(),
        ...(wrap.wrapped_accessor ? { inner_accessor: wrap.wrapped_accessor } : {}),
        ...(node !== undefined ? { node } : {}),
      });
    }
    const expiresAt = entries.map((e) => e.expires_at).sort()[0]!;
    const record: JobKeyRecord = {
      v: 1,
      job: req.job,
      user: req.user,
      mode: req.mode,
      vault_addr: vault.addr,
      mount: req.mount,
      wrap_ttl_s: ttlS,
      created_at: new Date().toISOString(),
      expires_at: expiresAt,
      keys: entries,
    };
    const path = await writeNewRecord(req.stateDir, record);
    const credentials = credentialsOf(record);
    written.length = 0;
    tokens.length = 0;
    return { credentials, record, recordPath: path };
  } finally {
    await rollback();
  }
}

/**
 * Make an unused credential worthless by spending it: unwrapping needs no
 * rights beyond the wrapping token itself (revoking by accessor would need a
 * policy most users lack). A wrapped token (reference mode) is revoked too.
 * Returns false when the credential was already used or expired.
 */
export async function discardCredential(vault: VaultClient, token: string): Promise<boolean> {
  let body: Record<string, unknown>;
  try {
    body = await vault.unwrap(token);
  } catch (err) {
    if (err instanceof VaultError && err.invalidWrappingToken) return false;
    throw err;
  }
  const inner = (body.auth as { client_token?: unknown } | null | undefined)?.client_token;
  if (typeof inner === "string") await vault.withToken(inner).revokeSelf().catch(() => {});
  return true;
}

/** The credentials document for the job script, from a (possibly rewrapped) record. */
export function credentialsOf(record: JobKeyRecord): Credentials {
  return {
    v: 1,
    kind: "sealbatch-credentials",
    mode: record.mode,
    job: record.job,
    user: record.user,
    vault_addr: record.vault_addr,
    ...(record.namespace ? { namespace: record.namespace } : {}),
    expires_at: record.expires_at,
    keys: record.keys.map((k) => ({
      name: k.name,
      path: k.path,
      token: k.token,
      ...(k.node !== undefined ? { node: k.node } : {}),
    })),
  };
}
