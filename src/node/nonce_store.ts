/**
 * Replay protection: one file per nonce in STATE/nonces, created with
 * O_EXCL so two copies of a job racing each other cannot both run.
 */
import { inputError, q, reason, refusal } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import type { Manifest } from "../job/manifest.ts";

const noncePath = (stateDir: string, nonce: string) => `${stateDir}/nonces/${nonce}`;

function replayed(m: Manifest): Error {
  return refusal(`job ${q(m.job)} was already run on this node (nonce seen before): replay`);
}

/** Fast check before expensive work; `claimNonce` is the authoritative one. */
export async function assertNonceUnused(stateDir: string, m: Manifest): Promise<void> {
  if (await exists(noncePath(stateDir, m.nonce))) throw replayed(m);
}

export async function claimNonce(stateDir: string, m: Manifest, now: Date): Promise<void> {
  try {
    await Deno.mkdir(`${stateDir}/nonces`, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw inputError(`cannot use state directory ${q(stateDir)}: ${reason(err)}`);
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(noncePath(stateDir, m.nonce), {
      createNew: true,
      write: true,
      mode: 0o600,
    });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) throw replayed(m);
    throw inputError(`cannot record nonce in ${q(stateDir)}: ${reason(err)}`);
  }
  // Kept for expiry-based pruning: after not_after the job is refused anyway.
  const record = JSON.stringify({ job: m.job, user: m.user, not_after: m.not_after, run: now });
  await file.write(new TextEncoder().encode(record + "\n"));
  file.close();
}
