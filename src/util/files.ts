/**
 * Output files that appear whole or not at all (age's lazy opener): data goes
 * to a temporary sibling created exclusively, and is renamed into place last.
 */
import { inputError, q } from "./errors.ts";
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
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** SHA-256 of a file as lowercase hex, streamed in 4 MiB chunks via node:crypto. */
export async function sha256File(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
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
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw inputError(`cannot read ${label} ${q(path)}: no such file`);
    }
    throw inputError(`cannot read ${label} ${q(path)}: ${(err as Error).message}`);
  }
  if (!info.isFile) throw inputError(`cannot read ${label} ${q(path)}: not a regular file`);
  if (info.size > maxBytes) {
    throw inputError(`cannot read ${label} ${q(path)}: larger than ${maxBytes} bytes`);
  }
  return await Deno.readTextFile(path);
}
