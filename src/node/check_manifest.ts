/**
 * Everything the decrypted manifest promises, checked before the script runs:
 * account, expiry, inputs (SHA-256), and finally the nonce is claimed.
 *
 * Each input is opened once on the shared file system and copied into the
 * node's private work directory while it is hashed (job_files.ts); the job
 * gets only the copies ($SEALBATCH_INPUTS), so no swap after the check counts.
 */
import { q, reason, refusal } from "../util/errors.ts";
import { readManifest } from "../job/manifest.ts";
import type { Manifest } from "../job/manifest.ts";
import { assertNonceUnused, claimNonce } from "./nonce_store.ts";
import { copyJobFile, freeBytes } from "./job_files.ts";
import { classifyFailure, failureLine } from "../job/progress.ts";

export interface ManifestCheck {
  payload: string;
  /** The account the job runs as. */
  user: string;
  /** Directory of run.sh: input paths are relative to it. */
  jobDir: string;
  stateDir: string;
  acceptUnmanifested: boolean;
  now: Date;
  /** Private directory (node-local, 0700) that receives the verified copies of the inputs. */
  copies: string;
  /** Inside a job: where a failed input step writes its fixed line for the Slurm log. */
  tellFailure?: (line: string) => void;
  /** The job's account: it must own the inputs, and gets the copies (when we are root). */
  account: { uid: number; gid: number };
  /** A job of several nodes: this node's index (its nonce is claimed per node). */
  nodeIndex?: number;
}

/** Room left in private storage beyond the copies: the job needs some to work in. */
const MARGIN = 16 * 1024 * 1024;

/** Directories on the way to an input: real directories, never links (made again below `copies`). */
async function checkDirs(c: ManifestCheck, path: string, label: string): Promise<void> {
  const parts = path.split("/").slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join("/");
    const info = await Deno.lstat(`${c.jobDir}/${sub}`).catch(() => undefined);
    if (!info?.isDirectory || info.isSymlink) {
      throw refusal(`${label} is refused: ${q(sub)} is not a directory of the job`);
    }
    await Deno.mkdir(`${c.copies}/${sub}`, { mode: 0o700 }).catch((err) => {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    });
    if (Deno.uid() === 0) await Deno.chown(`${c.copies}/${sub}`, c.account.uid, c.account.gid);
  }
}

/** Returns the manifest, or undefined for an accepted script without one. */
export async function checkManifest(c: ManifestCheck): Promise<Manifest | undefined> {
  let m: Manifest | undefined;
  try {
    m = readManifest(c.payload);
  } catch (err) {
    throw refusal(reason(err));
  }
  if (m === undefined) {
    if (c.acceptUnmanifested) return undefined;
    throw refusal("the job has no sealbatch manifest (no expiry, no replay protection)", {
      hint: "set accept_unmanifested: true in the node config to run jobs sealed by hand with gpg",
    });
  }
  if (m.user !== c.user) {
    throw refusal(`job ${q(m.job)} was sealed for account ${q(m.user)}, not for ${q(c.user)}`);
  }
  if (c.now.getTime() > Date.parse(m.not_after)) {
    throw refusal(`job ${q(m.job)} expired at ${m.not_after}`);
  }
  await assertNonceUnused(c.stateDir, m, c.nodeIndex);
  let room = await freeBytes(c.copies) - MARGIN;
  const owner = Deno.uid() === 0 ? { owner: c.account } : {};
  for (const [path, want] of Object.entries(m.inputs)) {
    const label = `input ${q(path)} of job ${q(m.job)}`;
    const copy = `${c.copies}/${path}`;
    try {
      await checkDirs(c, path, label);
      // Told apart from other refusals: the researcher can do something about it.
      const size = (await Deno.lstat(`${c.jobDir}/${path}`).catch(() => undefined))?.size ?? 0;
      if (size > room) {
        throw refusal(
          `${label} does not fit the node's work directory (${size} bytes, ${
            Math.max(room, 0)
          } free)`,
          { cause: Object.assign(new Error("No space left on device"), { code: "ENOSPC" }) },
        );
      }
      const got = await copyJobFile(`${c.jobDir}/${path}`, { path: copy, ...owner }, {
        uid: c.account.uid,
        maxBytes: Math.max(room, 0),
        label,
      });
      if (got !== want) {
        await Deno.remove(copy).catch(() => {});
        throw refusal(`${label} differs from what was sealed (SHA-256)`);
      }
    } catch (err) {
      // The fixed line the client reads back from the Slurm log (src/job/progress.ts).
      c.tellFailure?.(failureLine("open-input", classifyFailure(err)));
      throw err;
    }
    room -= (await Deno.stat(copy)).size;
  }
  await claimNonce(c.stateDir, m, c.now, c.nodeIndex);
  return m;
}
