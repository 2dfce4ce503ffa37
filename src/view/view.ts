/** The `view` step: a BART `.cfl`/`.hdr` pair to an 8-bit grayscale PNG. */
import { inputError, q } from "../util/errors.ts";
import { writeFileAtomic } from "../util/files.ts";
import { readCfl, readCflHeader } from "./cfl.ts";
import { encodePng, magnitudeImage } from "./render.ts";

/** 64 Mi pixels: far beyond any MR image, small enough to render in memory. */
const MAX_PIXELS = 64 * 1024 * 1024;

export interface ViewInput {
  /** `NAME.cfl`, `NAME.hdr` or `NAME`. */
  input: string;
  /** The PNG to create; an existing file is refused. */
  out: string;
  /** Log scale, for k-space. */
  log: boolean;
}

export interface ViewResult {
  out: string;
  width: number;
  height: number;
  dims: number[];
  /** How many 2D slices the file holds; the first one is shown. */
  slices: number;
  scale: "linear" | "log";
}

/**
 * Like BART's `toimg`: the first two dimensions larger than one form the image
 * (the first down the rows); the others count slices, of which the first is
 * shown. Singleton dimensions do not change the layout, so that first slice is
 * the first rows*cols samples of the file.
 */
export function imageShape(dims: number[]): { rows: number; cols: number; slices: number } {
  const big = dims.filter((d) => d > 1);
  const rows = big[0] ?? 1;
  const cols = big[1] ?? 1;
  return { rows, cols, slices: big.slice(2).reduce((a, b) => a * b, 1) };
}

export async function viewCfl(input: ViewInput): Promise<ViewResult> {
  const header = await readCflHeader(input.input);
  const { rows, cols, slices } = imageShape(header.dims);
  if (rows * cols > MAX_PIXELS) {
    throw inputError(
      `cannot view ${q(input.input)}: a ${rows}x${cols} image is larger than ${MAX_PIXELS} pixels`,
    );
  }
  const { data } = await readCfl(input.input, rows * cols);
  const image = magnitudeImage(data, rows, cols, { log: input.log });
  await writeFileAtomic(input.out, encodePng(image));
  return {
    out: input.out,
    width: image.width,
    height: image.height,
    dims: header.dims,
    slices,
    scale: input.log ? "log" : "linear",
  };
}
