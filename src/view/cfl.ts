/**
 * BART's file format: `NAME.hdr` (text, a `# Dimensions` line followed by up to
 * 16 sizes) and `NAME.cfl` (complex float32, little-endian, real and imaginary
 * interleaved, first dimension fastest). Both files come from untrusted places
 * (a job's output), so the header is checked before anything is allocated.
 */
import { inputError, q } from "../util/errors.ts";
import { writeFileAtomic } from "../util/files.ts";

/** BART's DIMS. */
export const MAX_DIMS = 16;
/** A header is a few lines; anything larger is not a BART header. */
const MAX_HEADER_BYTES = 64 * 1024;
/** 1 GiB of complex data (128 Mi samples): far beyond a 2D image, bounded for hostile headers. */
export const MAX_CFL_BYTES = 1024 * 1024 * 1024;

export interface CflHeader {
  /** All sizes as written (BART writes 16, trailing ones are 1). */
  dims: number[];
  /** Number of complex samples: the product of `dims`. */
  samples: number;
}

export interface CflData extends CflHeader {
  /** Interleaved real/imaginary pairs, `2 * samples` floats. */
  data: Float32Array;
}

/** `x.cfl`, `x.hdr` or `x` all name the pair `x.hdr` + `x.cfl`. */
export function cflBase(path: string): string {
  return path.replace(/\.(cfl|hdr)$/, "");
}

/** Parse the text of a `.hdr` file. */
export function parseHeader(text: string, label = "header"): CflHeader {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() === "# Dimensions");
  if (at < 0) throw inputError(`cannot read BART ${label}: no "# Dimensions" line`);
  const sizes = (lines[at + 1] ?? "").trim();
  if (sizes === "") throw inputError(`cannot read BART ${label}: no sizes after "# Dimensions"`);
  const fields = sizes.split(/\s+/);
  if (fields.length > MAX_DIMS) {
    throw inputError(
      `cannot read BART ${label}: ${fields.length} dimensions (at most ${MAX_DIMS})`,
    );
  }
  const dims: number[] = [];
  let samples = 1;
  for (const field of fields) {
    if (!/^[0-9]{1,10}$/.test(field) || Number(field) < 1) {
      throw inputError(
        `cannot read BART ${label}: dimension ${q(field)} is not a positive integer`,
      );
    }
    samples *= Number(field);
    // Checked on every step so a product of huge sizes never loses precision.
    if (samples * 8 > MAX_CFL_BYTES) {
      throw inputError(
        `cannot read BART ${label}: dimensions ${
          q(sizes)
        } describe more than ${MAX_CFL_BYTES} bytes`,
      );
    }
    dims.push(Number(field));
  }
  return { dims, samples };
}

async function statFile(path: string): Promise<Deno.FileInfo> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw inputError(`cannot read ${q(path)}: not a regular file`);
    return info;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw inputError(`cannot read ${q(path)}: no such file`);
    }
    // Permission errors pass unchanged: the CLI reports them as such (exit 10).
    throw err;
  }
}

/** Read and check `base.hdr`; the `.cfl` size must match what it promises. */
export async function readCflHeader(path: string): Promise<CflHeader & { base: string }> {
  const base = cflBase(path);
  const hdrPath = `${base}.hdr`;
  const hdrInfo = await statFile(hdrPath);
  if (hdrInfo.size > MAX_HEADER_BYTES) {
    throw inputError(
      `cannot read BART header ${q(hdrPath)}: larger than ${MAX_HEADER_BYTES} bytes`,
    );
  }
  const header = parseHeader(await Deno.readTextFile(hdrPath), `header ${q(hdrPath)}`);
  const cflPath = `${base}.cfl`;
  const cflInfo = await statFile(cflPath);
  if (cflInfo.size !== header.samples * 8) {
    throw inputError(
      `cannot read BART data ${q(cflPath)}: ${cflInfo.size} bytes, but its header describes ` +
        `${header.samples} complex samples (${header.samples * 8} bytes)`,
    );
  }
  return { ...header, base };
}

/**
 * Read the first `limit` complex samples (all by default) of a checked pair.
 * Reading only what is shown keeps a large multi-slice file cheap to preview.
 */
export async function readCfl(path: string, limit?: number): Promise<CflData> {
  const header = await readCflHeader(path);
  const count = Math.min(limit ?? header.samples, header.samples);
  const bytes = new Uint8Array(count * 8);
  const file = await Deno.open(`${header.base}.cfl`, { read: true });
  try {
    let filled = 0;
    while (filled < bytes.length) {
      const n = await file.read(bytes.subarray(filled));
      if (n === null) {
        throw inputError(
          `cannot read BART data ${q(`${header.base}.cfl`)}: file shrank while reading`,
        );
      }
      filled += n;
    }
  } finally {
    file.close();
  }
  const view = new DataView(bytes.buffer);
  const data = new Float32Array(count * 2);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
  return { dims: header.dims, samples: header.samples, data };
}

/** Write `base.hdr` and `base.cfl` the way BART does (16 sizes, little-endian floats). */
export async function writeCfl(
  base: string,
  dims: number[],
  data: Float32Array,
  command: string,
): Promise<void> {
  const all = [...dims, ...Array<number>(MAX_DIMS - dims.length).fill(1)];
  const samples = all.reduce((a, b) => a * b, 1);
  if (data.length !== samples * 2) {
    throw new Error(`writeCfl: ${data.length} floats for ${samples} complex samples`);
  }
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  const name = base.split("/").pop() ?? base;
  const hdr = `# Dimensions\n${all.join(" ")} \n# Command\n${command} \n# Files\n >${name}\n`;
  // Data first: a reader that finds the header can rely on the data being complete.
  await writeFileAtomic(`${base}.cfl`, bytes);
  try {
    await writeFileAtomic(`${base}.hdr`, hdr);
  } catch (err) {
    await Deno.remove(`${base}.cfl`).catch(() => {});
    throw err;
  }
}
