/**
 * Replay protection: one file per nonce in STATE/nonces, created with
 * O_EXCL so two copies of a job racing each other cannot both run. A nonce
 * is forgotten only after its job's not_after has passed: from then on the
 * expiry check refuses the job before the nonce is looked at.
 */
import { inputError, q, reason, refusal } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import type { Manifest } from "../job/manifest.ts";

/**
 * A job of several nodes is claimed once per node (scope: the node's index):
 * nodes may share one state directory, as on a test cluster.
 */
const noncePath = (stateDir: string, m: Manifest, scope?: number) =>
  `${stateDir}/nonces/${m.nonce}${scope === undefined ? "" : `.node-${scope}`}`;

function replayed(m: Manifest): Error {
  return refusal(`job ${q(m.job)} was already run on this node (nonce seen before): replay`);
}

/** Fast check before expensive work; `claimNonce` is the authoritative one. */
export async function assertNonceUnused(
  stateDir: string,
  m: Manifest,
  scope?: number,
): Promise<void> {
  if (await exists(noncePath(stateDir, m, scope))) throw replayed(m);
}

export async function claimNonce(
  stateDir: string,
  m: Manifest,
  now: Date,
  scope?: number,
): Promise<void> {
  try {
    await Deno.mkdir(`${stateDir}/nonces`, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw inputError(`cannot use state directory ${q(stateDir)}: ${reason(err)}`);
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(noncePath(stateDir, m, scope), {
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
  await pruneExpiredNonces(stateDir, now).catch(() => {}); // housekeeping never fails a job
}

/** At most one pass per interval, so busy nodes do not rescan on every job. */
const PRUNE_INTERVAL_MS = 3600_000;
/** Kept a day past expiry: a margin for clocks the expiry check might trust differently. */
const PRUNE_GRACE_MS = 86400_000;
/** Nonce records are one short JSON line; anything larger is not ours and is kept. */
const MAX_RECORD = 4096;

/** Remove nonce records whose job expired more than a day ago; returns how many. */
export async function pruneExpiredNonces(stateDir: string, now: Date): Promise<number> {
  const dir = `${stateDir}/nonces`;
  const marker = `${dir}/.pruned`;
  const last = (await Deno.stat(marker).catch(() => undefined))?.mtime?.getTime();
  if (last !== undefined && now.getTime() - last < PRUNE_INTERVAL_MS) return 0;
  await Deno.writeTextFile(marker, "", { mode: 0o600 });
  await Deno.utime(marker, now, now);
  let removed = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || entry.name.startsWith(".")) continue;
    const path = `${dir}/${entry.name}`;
    const expiry = await recordExpiry(path);
    // Unreadable or unparsable records are kept: forgetting a nonce must be certain.
    if (expiry !== undefined && now.getTime() - expiry > PRUNE_GRACE_MS) {
      await Deno.remove(path).then(() => removed++, () => {});
    }
  }
  return removed;
}

async function recordExpiry(path: string): Promise<number | undefined> {
  try {
    if ((await Deno.lstat(path)).size > MAX_RECORD) return undefined;
    const record: unknown = JSON.parse(await Deno.readTextFile(path));
    const notAfter = (record as { not_after?: unknown }).not_after;
    const time = typeof notAfter === "string" ? Date.parse(notAfter) : NaN;
    return Number.isFinite(time) ? time : undefined;
  } catch {
    return undefined;
  }
}
