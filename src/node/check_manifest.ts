/**
 * Everything the decrypted manifest promises, checked before the script runs:
 * account, expiry, inputs (SHA-256), and finally the nonce is claimed.
 */
import { q, reason, refusal, SealbatchError } from "../util/errors.ts";
import { sha256File } from "../util/files.ts";
import { readManifest } from "../job/manifest.ts";
import type { Manifest } from "../job/manifest.ts";
import { assertNonceUnused, claimNonce } from "./nonce_store.ts";

export interface ManifestCheck {
  payload: string;
  /** The account the job runs as. */
  user: string;
  /** Directory of run.sh: input paths are relative to it. */
  jobDir: string;
  stateDir: string;
  acceptUnmanifested: boolean;
  now: Date;
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
  await assertNonceUnused(c.stateDir, m);
  const root = await Deno.realPath(c.jobDir);
  for (const [path, want] of Object.entries(m.inputs)) {
    let got: string;
    try {
      // Resolved inside the job directory and regular: root must not hash files
      // elsewhere for the user (that would confirm guesses about their content).
      const real = await Deno.realPath(`${c.jobDir}/${path}`);
      if (!real.startsWith(`${root}/`)) throw new Error("it leads outside the job directory");
      if (!(await Deno.stat(real)).isFile) throw new Error("not a regular file");
      got = await sha256File(real);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "no such file"
        : err instanceof SealbatchError
        ? err.message
        : reason(err);
      throw refusal(`input ${q(path)} of job ${q(m.job)} cannot be read: ${why}`);
    }
    if (got !== want) {
      throw refusal(`input ${q(path)} of job ${q(m.job)} differs from what was sealed (SHA-256)`);
    }
  }
  await claimNonce(c.stateDir, m, c.now);
  return m;
}
