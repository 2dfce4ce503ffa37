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

function readExactly(file: Deno.FsFile, buf: Uint8Array): void {
  let got = 0;
  while (got < buf.length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) throw inputError("the container ended early");
    got += n;
  }
}

/** Rewrite one header copy at `at` in `meta` so its segments start at 0; re-checksum it. */
function rebase(meta: Uint8Array, at: number, header: LuksHeader): void {
  const copy = meta.subarray(at, at + header.headerSize);
  const area = copy.subarray(4096);
  const end = area.indexOf(0);
  const json = JSON.parse(new TextDecoder().decode(area.subarray(0, end)));
  for (const seg of Object.values(json.segments as Record<string, { offset: string }>)) {
    seg.offset = "0";
  }
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
 * Write `headerOut` (detached header, data at offset 0) and `dataOut` (the
 * encrypted data segment) from `image`. Both are created exclusively, 0600.
 * `stop` ends the copy early (the key turned out wrong); the caller removes the files.
 */
export async function detachForDecrypt(
  image: string,
  header: LuksHeader,
  headerOut: string,
  dataOut: string,
  stop?: AbortSignal,
): Promise<void> {
  if (header.dataOffset === 0 || header.dataOffset > MAX_METADATA) {
    throw inputError("the container's data offset is not supported");
  }
  const src = await Deno.open(image, { read: true });
  try {
    const meta = new Uint8Array(header.dataOffset);
    readExactly(src, meta);
    rebase(meta, 0, header);
    rebase(meta, header.headerSize, header);
    Deno.writeFileSync(headerOut, meta, { createNew: true, mode: 0o600 });
    const out = await Deno.open(dataOut, { createNew: true, write: true, mode: 0o600 });
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
    } finally {
      out.close();
    }
  } finally {
    src.close();
  }
}
