/**
 * Output files that appear whole or not at all (age's lazy opener): data goes
 * to a temporary sibling created exclusively, and is renamed into place last.
 */
import { inputError, q, SealbatchError } from "./errors.ts";
import { onCleanup } from "./cleanup.ts";

export interface AtomicWriteOptions {
  mode?: number;
  /** Replace an existing file (default: refuse). */
  overwrite?: boolean;
}

export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  if (!opts.overwrite && (await exists(path))) {
    throw inputError(`cannot write ${q(path)}: it already exists`, {
      hint: "remove it first or choose another output",
    });
  }
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const drop = onCleanup(() => Deno.remove(tmp).catch(() => {}));
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    await Deno.writeFile(tmp, bytes, { createNew: true, mode: opts.mode ?? 0o644 });
    if (opts.mode !== undefined) await Deno.chmod(tmp, opts.mode);
    await Deno.rename(tmp, path);
  } catch (err) {
    await drop();
    throw inputError(`cannot write ${q(path)}: ${(err as Error).message}`);
  }
  await drop();
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    // A file where a directory should be ("state/jobs/x" below a file) means "no such path".
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw err;
  }
}

/**
 * SHA-256 of a regular file as lowercase hex, streamed in chunks via
 * node:crypto. Anything else (a FIFO would block forever, a directory, a
 * dangling link) is a clean input error.
 */
export async function sha256File(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  const file = await openRegular(path, `cannot read ${q(path)}`);
  try {
    for await (const chunk of file.readable) hash.update(chunk);
  } catch (err) {
    throw inputError(`cannot read ${q(path)}: ${(err as Error).message}`);
  }
  return hash.digest("hex");
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Read a text file with a size cap, as a clean input error when it fails. */
export async function readTextCapped(
  path: string,
  maxBytes: number,
  label = "file",
): Promise<string> {
  return new TextDecoder().decode(
    await readFileCapped(path, maxBytes, `cannot read ${label} ${q(path)}`),
  );
}

/**
 * Open `path` for reading only if it is a regular file. The type is checked
 * before opening (opening a FIFO blocks until a writer appears) and again on
 * the opened handle, so a path swapped in between is caught.
 */
async function openRegular(path: string, what: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    if (!(await Deno.stat(path)).isFile) throw inputError(`${what}: not a regular file`);
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof SealbatchError) throw err;
    if (err instanceof Deno.errors.NotFound) throw inputError(`${what}: no such file`);
    throw inputError(`${what}: ${(err as Error).message}`);
  }
  try {
    if (!(await file.stat()).isFile) throw inputError(`${what}: not a regular file`);
  } catch (err) {
    file.close();
    throw err;
  }
  return file;
}

/**
 * Read a whole regular file of at most `maxBytes`. Every check (`check` too)
 * applies to the opened file, never to a path that may change meanwhile, and
 * reading stops after `maxBytes` even when the file grows or its size lies.
 * `what` starts each error: "cannot read key file \"x\"".
 */
export async function readFileCapped(
  path: string,
  maxBytes: number,
  what: string,
  check?: (info: Deno.FileInfo) => void,
): Promise<Uint8Array> {
  const file = await openRegular(path, what);
  try {
    const info = await file.stat();
    check?.(info);
    const tooLarge = () => inputError(`${what}: larger than ${maxBytes} bytes`);
    if (info.size > maxBytes) throw tooLarge();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      size += n;
      if (size > maxBytes) throw tooLarge();
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
      c.fill(0);
    }
    buf.fill(0);
    return all;
  } finally {
    file.close();
  }
}
