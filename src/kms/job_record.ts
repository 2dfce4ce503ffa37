/**
 * The client-side record of one job's escrowed keys, in the user's project
 * state directory: `<state>/jobs/<JOB>/keys.json` (default state `.sealbatch`),
 * 0600. It holds the wrapping tokens and accessors so that `keys status`,
 * `keys rewrap` and `keys revoke` can act later; it never holds key bytes.
 */
import { inputError, q } from "../util/errors.ts";
import { exists, writeFileAtomic } from "../util/files.ts";
import { readSecretFile, writeSecretFile } from "../util/secret_file.ts";
import { NAME_RE } from "../util/user.ts";
import type { KeyMode } from "./credentials.ts";

export const DEFAULT_STATE_DIR = ".sealbatch";

export interface RecordKey {
  name: string;
  /** KV path below the mount, e.g. sealbatch/alice/job1/luks. */
  kv_path: string;
  /** API path, e.g. secret/data/sealbatch/alice/job1/luks. */
  path: string;
  token: string;
  accessor: string;
  creation_path: string;
  expires_at: string;
  /** Reference mode: the accessor of the wrapped use-limited token. */
  inner_accessor?: string;
  /** Multi-node jobs: the node index this credential is for. */
  node?: number;
}

export interface JobKeyRecord {
  v: 1;
  job: string;
  user: string;
  mode: KeyMode;
  vault_addr: string;
  namespace?: string;
  mount: string;
  wrap_ttl_s: number;
  created_at: string;
  expires_at: string;
  /** Set by the job workflow when the job started running on the node. */
  started_at?: string;
  revoked_at?: string;
  keys: RecordKey[];
}

export function recordPath(stateDir: string, job: string): string {
  if (!NAME_RE.test(job)) {
    throw inputError(`invalid job id ${q(job)}`, { hint: "use letters, digits, '_', '.' and '-'" });
  }
  return `${stateDir}/jobs/${job}/keys.json`;
}

/** Create the record; refuses to replace an existing one (O_EXCL). */
export async function writeNewRecord(stateDir: string, record: JobKeyRecord): Promise<string> {
  const path = recordPath(stateDir, record.job);
  await Deno.mkdir(`${stateDir}/jobs/${record.job}`, { recursive: true, mode: 0o700 });
  await writeSecretFile(path, JSON.stringify(record, null, 2) + "\n");
  return path;
}

/** Replace the record whole (temporary sibling + rename), mode 0600. */
export async function updateRecord(stateDir: string, record: JobKeyRecord): Promise<void> {
  await writeFileAtomic(recordPath(stateDir, record.job), JSON.stringify(record, null, 2) + "\n", {
    mode: 0o600,
    overwrite: true,
  });
}

export async function recordExists(stateDir: string, job: string): Promise<boolean> {
  return await exists(recordPath(stateDir, job));
}

export async function readRecord(stateDir: string, job: string): Promise<JobKeyRecord> {
  const path = recordPath(stateDir, job);
  if (!(await exists(path))) {
    throw inputError(`no key record for job ${q(job)} at ${q(path)}`, {
      hint: "run the command in the project where the job was sealed, or give --state DIR",
    });
  }
  const text = new TextDecoder().decode(
    await readSecretFile(path, { label: "key record", maxBytes: 1 << 20 }),
  );
  let doc: JobKeyRecord;
  try {
    doc = JSON.parse(text);
  } catch {
    throw inputError(`cannot read key record ${q(path)}: not JSON`);
  }
  if (doc?.v !== 1 || doc.job !== job || !Array.isArray(doc.keys)) {
    throw inputError(
      `cannot read key record ${q(path)}: not a sealbatch key record for job ${q(job)}`,
    );
  }
  return doc;
}

/** Note that the job has started on the node (used to tell interception from normal use). */
export async function markJobStarted(
  stateDir: string,
  job: string,
  at = new Date(),
): Promise<void> {
  const record = await readRecord(stateDir, job);
  if (record.started_at) return;
  await updateRecord(stateDir, { ...record, started_at: at.toISOString() });
}
