/**
 * `sealbatch job clean`: a finished job leaves nothing behind on the shared
 * side. Its directory there (ciphertext, run.sh, the Slurm log) is removed,
 * its Vault secrets are checked to be gone (deleted now if a run that ended
 * early left them), and the local copies of its containers go; the local
 * results (outputs, receipt, state) stay.
 */
import type { VaultClient } from "../kms/vault_client.ts";
import { type JobKeyRecord, readRecord, recordExists } from "../kms/job_record.ts";
import { revokeJob } from "../kms/followup.ts";
import { q, SealbatchError } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import type { Backend } from "./backend.ts";
import type { JobEntry } from "./project.ts";
import { RunState } from "./state.ts";

export interface CleanInput {
  /** <project>/.sealbatch */
  stateRoot: string;
  entry: JobEntry;
  backend: Backend;
  vault: VaultClient;
}

export interface CleanResult {
  job: string;
  /** The job's directory on the shared side, now gone. */
  remoteDir: string;
  /** Vault secrets checked to be gone. */
  secretsGone: number;
  /** Secrets that were still there and were deleted now. */
  revokedNow: boolean;
  /** Local files removed (copies of the containers that were uploaded). */
  removed: string[];
}

/** Why a job cannot be cleaned (still queued or running), or undefined. */
export function notCleanable(entry: JobEntry): string | undefined {
  if (entry.slurmJob && !entry.steps.includes("wait")) {
    return `job ${q(entry.job)} was submitted (Slurm ${entry.slurmJob}) and has not been seen to ` +
      `end: cancel it first (sealbatch job cancel ${entry.job}), or run its spec again to finish it`;
  }
  return undefined;
}

/** A finished job: its run ended (waited for) or it was revoked. */
export function isFinished(entry: JobEntry): boolean {
  return entry.finished || entry.steps.includes("wait");
}

async function records(stateRoot: string, entry: JobEntry): Promise<JobKeyRecord[]> {
  const out: JobKeyRecord[] = [];
  if (await recordExists(stateRoot, entry.job)) out.push(await readRecord(stateRoot, entry.job));
  const revoked = `${entry.dir}/keys.revoked.json`;
  if (await exists(revoked)) out.push(JSON.parse(await Deno.readTextFile(revoked)));
  return out;
}

export async function cleanJob(input: CleanInput): Promise<CleanResult> {
  const { entry, vault } = input;
  const why = notCleanable(entry);
  if (why) throw new SealbatchError("usage", `cannot clean: ${why}`);
  let revokedNow = false;
  let secretsGone = 0;
  for (const record of await records(input.stateRoot, entry)) {
    if (!record.revoked_at) {
      // The job has ended (or never ran): its keys are not needed in Vault any more.
      await revokeJob(vault, input.stateRoot, record);
      revokedNow = true;
    }
    for (const k of record.keys) {
      if ((await vault.kvRead(record.mount, k.kv_path)) !== null) {
        throw new SealbatchError(
          "kms",
          `cannot clean ${q(entry.job)}: its secret ${q(k.path)} is still in Vault`,
          {
            hint: `delete it: sealbatch keys revoke --job ${entry.job} --state ${input.stateRoot}`,
          },
        );
      }
      secretsGone++;
    }
  }
  const remoteDir = input.backend.jobDir(entry.job);
  if (!(await input.backend.removeJobDir(entry.job))) {
    throw new SealbatchError("remote", `cannot remove ${q(remoteDir)} on the shared side`);
  }
  const removed: string[] = [];
  for (const name of ["input.img", "image.sif", "results/output.results.img"]) {
    const path = `${entry.dir}/${name}`;
    if (await exists(path)) {
      await Deno.remove(path);
      removed.push(path);
    }
  }
  const state = await RunState.open(entry.dir, entry.job);
  await state.forget("clean");
  await state.step(
    "clean",
    () => Promise.resolve({ at: new Date().toISOString(), remoteDir, secretsGone }),
  );
  return { job: entry.job, remoteDir, secretsGone, revokedNow, removed };
}
