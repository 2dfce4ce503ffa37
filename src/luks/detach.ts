/**
 * The fast rootless open: instead of copying the whole container and letting
 * `reencrypt --decrypt` shift 16 MiB of header out of it (a journaled data
 * move), the header is written to a detached file whose data segment starts at
 * offset 0, and only the encrypted data is copied. cryptsetup then decrypts
 * the copy in place without moving it, and without resilience (the copy is
 * private and thrown away if anything fails).
 */
import { createHash } from "node:crypto";
import { inputError } from "../util/errors.ts";
import type { LuksHeader } from "./header.ts";

/**
 * Synchronous 1 MiB reads and writes: each async file op hops to a thread
 * pool, and on a busy machine a 256 MiB copy with 8 MiB async reads took up to
 * ten times as long as this, which is as fast as the kernel's copy_file_range.
 */
const COPY_CHUNK = 1024 * 1024;
/** Yield to the event loop this often, so Ctrl-C and child processes are served. */
const YIELD_EVERY = 32;
/** Largest header + key slot area the format allows (2 x 4 MiB + 128 MiB). */
const MAX_METADATA = 136 * 1024 * 1024;
/**
 * Free key slot area kept in the detached header. cryptsetup puts its
 * reencryption key slot into the largest free gap (with resilience "none" it
 * stores nothing there) and overwrites that gap with random bytes when it is
 * done: 16 MiB of them for a standard header, for a file deleted right after.
 */
const SPARE_AREA = 4096;

function readExactly(file: Deno.FsFile, buf: Uint8Array): void {
  let got = 0;
  while (got < buf.length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) throw inputError("the container ended early");
    got += n;
  }
}

/**
 * Bytes the detached header needs: both metadata copies and the key slot
 * areas in use, plus SPARE_AREA (never more than the original).
 */
function detachedBytes(header: LuksHeader): number {
  const slotsEnd = Math.max(
    2 * header.headerSize,
    ...header.keyslots.map((k) => k.areaOffset + k.areaSize),
  );
  return Math.min(Math.ceil((slotsEnd + SPARE_AREA) / 4096) * 4096, header.dataOffset);
}

/**
 * Rewrite one header copy at `at` in `meta` so its segments start at 0 and
 * its key slot area ends at `end`; re-checksum it.
 */
function rebase(meta: Uint8Array, at: number, header: LuksHeader, end: number): void {
  const copy = meta.subarray(at, at + header.headerSize);
  const area = copy.subarray(4096);
  const stop = area.indexOf(0);
  const json = JSON.parse(new TextDecoder().decode(area.subarray(0, stop)));
  for (const seg of Object.values(json.segments as Record<string, { offset: string }>)) {
    seg.offset = "0";
  }
  json.config.keyslots_size = String(end - 2 * header.headerSize);
  const text = new TextEncoder().encode(JSON.stringify(json));
  if (text.length >= area.length) {
    throw inputError("the container's metadata is too large to detach");
  }
  area.fill(0);
  area.set(text);
  // The rewritten copy is always checksummed with sha256.
  copy.fill(0, 72, 104);
  copy.set(new TextEncoder().encode("sha256"), 72);
  copy.fill(0, 448, 512);
  copy.set(createHash("sha256").update(copy).digest(), 448);
}

/**
 * Write `headerOut` (detached header, data at offset 0) and create `dataOut`
 * at the size of the encrypted data, for copyData to fill (cryptsetup can
 * prepare the decryption meanwhile: it reads only the header). Both are
 * created exclusively, 0600.
 */
export async function detachHeader(
  image: string,
  header: LuksHeader,
  headerOut: string,
  dataOut: string,
): Promise<void> {
  if (header.dataOffset === 0 || header.dataOffset > MAX_METADATA) {
    throw inputError("the container's data offset is not supported");
  }
  const end = detachedBytes(header);
  const src = await Deno.open(image, { read: true });
  try {
    const meta = new Uint8Array(end);
    readExactly(src, meta);
    rebase(meta, 0, header, end);
    rebase(meta, header.headerSize, header, end);
    Deno.writeFileSync(headerOut, meta, { createNew: true, mode: 0o600 });
    const size = (await src.stat()).size - header.dataOffset;
    const out = await Deno.open(dataOut, { createNew: true, write: true, mode: 0o600 });
    try {
      await out.truncate(Math.max(size, 0));
    } finally {
      out.close();
    }
  } finally {
    src.close();
  }
}

/**
 * Copy the encrypted data of `image` into `dataOut` (made by detachHeader).
 * `stop` ends the copy early (the key turned out wrong); the caller removes
 * the files.
 */
export async function copyData(
  image: string,
  header: LuksHeader,
  dataOut: string,
  stop?: AbortSignal,
): Promise<void> {
  const src = await Deno.open(image, { read: true });
  try {
    const out = await Deno.open(dataOut, { write: true });
    await src.seek(header.dataOffset, Deno.SeekMode.Start);
    try {
      const buf = new Uint8Array(COPY_CHUNK);
      let chunks = 0;
      for (let n = src.readSync(buf); n !== null; n = src.readSync(buf)) {
        let written = 0;
        while (written < n) written += out.writeSync(buf.subarray(written, n));
        if (++chunks % YIELD_EVERY === 0) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          stop?.throwIfAborted();
        }
      }
      // cryptsetup reads the copy with direct I/O, which first writes it back
      // to disk: on a disk-backed work directory, do that now, while
      // cryptsetup prepares the decryption (a no-op on tmpfs).
      await out.syncData();
    } finally {
      out.close();
    }
  } finally {
    src.close();
  }
}

/** detachHeader, then copyData. */
export async function detachForDecrypt(
  image: string,
  header: LuksHeader,
  headerOut: string,
  dataOut: string,
  stop?: AbortSignal,
): Promise<void> {
  await detachHeader(image, header, headerOut, dataOut);
  await copyData(image, header, dataOut, stop);
}
