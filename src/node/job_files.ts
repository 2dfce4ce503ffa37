/**
 * The job's files on the shared file system, which others may control (its
 * admins, the login nodes' admins, another account with write access). The
 * node opens each file it uses once, and checks what it opened:
 *
 *  1. lstat: a regular file, not a symbolic link, FIFO, socket, device or
 *     directory; nothing else is ever opened (opening a FIFO blocks, opening a
 *     device node acts on the node's own device);
 *  2. open with O_NOFOLLOW | O_NONBLOCK (node:fs; Deno.open has neither): a
 *     link swapped in after the lstat fails the open, a FIFO cannot block it;
 *  3. fstat of the open handle: the same file as the lstat (dev, ino), regular,
 *     owned by the job's account, writable by nobody else, within the bound.
 *
 * Inputs are then copied into the node's private work directory while they
 * are hashed, and only the copy is used: the bytes compared with the manifest
 * are the bytes the job gets, whatever happens to the shared file afterwards.
 * A device node swapped in between steps 1 and 2 would still be opened (and
 * refused at 3): the admin guide has the shared file system mounted `nodev`.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { q, reason, refusal, SealbatchError } from "../util/errors.ts";
import { exec } from "../util/exec.ts";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;

export interface JobFileRules {
  /** The job's account: it must own the file. */
  uid: number;
  /** Files larger than this are refused before a byte is read. */
  maxBytes: number;
  /** What the file is, first in messages: `input "input.img" of job "x"`. */
  label: string;
}

export interface OpenedJobFile {
  handle: FileHandle;
  size: number;
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isSymlink) return "a symbolic link";
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice || info.isBlockDevice) return "a device node";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** Owner and modes: nobody but the job's account may have written it. */
function checkOwner(label: string, uid: number, owner: number, mode: number): void {
  if (owner !== uid) {
    throw refusal(`${label} is refused: it belongs to uid ${owner}, not to the job's account`);
  }
  if ((mode & 0o022) !== 0) {
    throw refusal(
      `${label} is refused: others can write it (mode ${(mode & 0o777).toString(8)})`,
      { hint: "the uploads make it 0600; someone changed it on the shared file system" },
    );
  }
}

/** Open `path` once as described above; the caller closes the handle. */
export async function openJobFile(path: string, rules: JobFileRules): Promise<OpenedJobFile> {
  const { label } = rules;
  let before: Deno.FileInfo;
  try {
    before = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw refusal(`${label} is missing`);
    throw refusal(`${label} cannot be read: ${reason(err)}`);
  }
  if (!before.isFile || before.isSymlink) throw refusal(`${label} is refused: ${kindOf(before)}`);
  if (before.size > rules.maxBytes) {
    throw refusal(`${label} is refused: ${before.size} bytes, more than ${rules.maxBytes}`);
  }
  let handle: FileHandle;
  try {
    handle = await fsp.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ELOOP") throw refusal(`${label} is refused: a symbolic link`);
    if (code === "ENOENT") throw refusal(`${label} is missing`);
    throw refusal(`${label} cannot be opened: ${code ?? reason(err)}`);
  }
  try {
    const info = await handle.stat();
    if (info.dev !== before.dev || info.ino !== before.ino) {
      throw refusal(`${label} is refused: it was replaced while the node opened it`);
    }
    if (!info.isFile()) throw refusal(`${label} is refused: not a regular file`);
    checkOwner(label, rules.uid, info.uid, info.mode);
    if (info.size > rules.maxBytes) {
      throw refusal(`${label} is refused: ${info.size} bytes, more than ${rules.maxBytes}`);
    }
    return { handle, size: info.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Read from `opened` to its end, at most its size at open time plus nothing:
 * a file that grows while it is read is refused rather than read on.
 */
async function readAll(
  opened: OpenedJobFile,
  label: string,
  each: (chunk: Uint8Array) => Promise<void> | void,
): Promise<number> {
  const buf = new Uint8Array(1024 * 1024);
  let total = 0;
  for (;;) {
    const { bytesRead } = await opened.handle.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > opened.size) throw refusal(`${label} is refused: it grew while it was read`);
    await each(buf.subarray(0, bytesRead));
  }
  if (total !== opened.size) throw refusal(`${label} is refused: it shrank while it was read`);
  return total;
}

/** A whole small job file (run.sh, run.sh.sig), opened once. */
export async function readJobFile(path: string, rules: JobFileRules): Promise<Uint8Array> {
  const opened = await openJobFile(path, rules);
  try {
    const all = new Uint8Array(opened.size);
    let at = 0;
    await readAll(opened, rules.label, (chunk) => {
      all.set(chunk, at);
      at += chunk.length;
    });
    return all;
  } finally {
    await opened.handle.close();
  }
}

/** SHA-256 (hex) and size of a job file, hashed from the one open handle. */
export async function hashJobFile(
  path: string,
  rules: JobFileRules,
): Promise<{ sha256: string; bytes: number }> {
  const { createHash } = await import("node:crypto");
  const opened = await openJobFile(path, rules);
  try {
    const hash = createHash("sha256");
    const bytes = await readAll(opened, rules.label, (chunk) => void hash.update(chunk));
    return { sha256: hash.digest("hex"), bytes };
  } finally {
    await opened.handle.close();
  }
}

export interface CopyTarget {
  /** Created exclusively, mode 0600, never through a link. */
  path: string;
  /** Owner of the copy (the job's account, when the node runs as root). */
  owner?: { uid: number; gid: number };
}

/**
 * Copy a job file into private storage while hashing it; returns the SHA-256
 * (hex) of exactly the bytes written. The copy is removed again on failure.
 */
export async function copyJobFile(
  path: string,
  to: CopyTarget,
  rules: JobFileRules,
): Promise<string> {
  const { createHash } = await import("node:crypto");
  const opened = await openJobFile(path, rules);
  let out: FileHandle | undefined;
  try {
    out = await fsp.open(to.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    if (to.owner) await out.chown(to.owner.uid, to.owner.gid);
    const hash = createHash("sha256");
    const target = out;
    await readAll(opened, rules.label, async (chunk) => {
      hash.update(chunk);
      for (let at = 0; at < chunk.length;) {
        at += (await target.write(chunk, at, chunk.length - at)).bytesWritten;
      }
    });
    return hash.digest("hex");
  } catch (err) {
    await out?.close().catch(() => {});
    out = undefined;
    await Deno.remove(to.path).catch(() => {});
    if (err instanceof SealbatchError) throw err;
    throw refusal(`${rules.label} cannot be copied to private storage: ${reason(err)}`);
  } finally {
    await out?.close();
    await opened.handle.close();
  }
}

/**
 * The job directory: a directory of the job's account that nobody else can
 * write. (Its parents are not checked: the node uses no file from it without
 * the checks above, and what it writes there, the client verifies.)
 */
export async function checkJobDir(dir: string, uid: number): Promise<void> {
  const label = `job directory ${q(dir)}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    throw refusal(`${label} cannot be read: ${reason(err)}`);
  }
  if (!info.isDirectory) throw refusal(`${label} is refused: ${kindOf(info)}`);
  checkOwner(label, uid, info.uid ?? -1, info.mode ?? 0);
}

/** Bytes available to an unprivileged writer below `dir` (`stat -f`: free blocks x block size). */
export async function freeBytes(dir: string): Promise<number> {
  const r = await exec("stat", ["-f", "-c", "%a %S", dir], {
    what: `checking the free space of ${q(dir)}`,
    requireOutput: true,
  });
  const [blocks, size] = r.text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(blocks) || !Number.isFinite(size)) {
    throw new SealbatchError("tool", `cannot tell the free space of ${q(dir)} from stat`);
  }
  return blocks! * size!;
}

/**
 * A file the node writes into the job directory as root (receipt.json): a new
 * temporary created exclusively without following links, owned by the job's
 * account through its handle (never chown by path, which follows a link
 * swapped in), renamed into place last.
 */
export async function writeOwnedFile(
  path: string,
  data: Uint8Array | string,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const out = await fsp.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    await out.chmod(0o644);
    if (owner) await out.chown(owner.uid, owner.gid);
    for (let at = 0; at < bytes.length;) {
      at += (await out.write(bytes, at, bytes.length - at)).bytesWritten;
    }
    await out.close();
    await Deno.rename(tmp, path);
  } catch (err) {
    await out.close().catch(() => {});
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
