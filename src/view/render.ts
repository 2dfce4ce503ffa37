/**
 * Magnitude of a 2D complex slice as 8-bit grayscale, laid out the way BART's
 * `toimg` shows it: the first dimension runs down the rows, the second across.
 */
import { encode } from "fast-png";

/** How many decades below the maximum the log scale still shows. */
const LOG_DECADES = 5;

export interface Gray8 {
  width: number;
  height: number;
  /** Row-major, one byte per pixel. */
  pixels: Uint8Array;
}

/**
 * `data` holds interleaved complex samples with `rows` fastest. Linear scale
 * maps 0..max to 0..255; log scale maps max*10^-LOG_DECADES..max to 0..255,
 * which makes the outer k-space visible next to its bright centre.
 * Non-finite samples count as zero so one bad value cannot blank the image.
 */
export function magnitudeImage(
  data: Float32Array,
  rows: number,
  cols: number,
  opts: { log?: boolean } = {},
): Gray8 {
  const n = rows * cols;
  const mag = new Float64Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const m = Math.hypot(data[2 * i]!, data[2 * i + 1]!);
    const v = Number.isFinite(m) ? m : 0;
    mag[i] = v;
    if (v > max) max = v;
  }
  const pixels = new Uint8Array(n);
  if (max > 0) {
    const floor = -LOG_DECADES;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const rel = mag[c * rows + r]! / max;
        const level = opts.log
          ? rel > 0 ? Math.max(0, (Math.log10(rel) - floor) / -floor) : 0
          : rel;
        pixels[r * cols + c] = Math.round(level * 255);
      }
    }
  }
  return { width: cols, height: rows, pixels };
}

export function encodePng(image: Gray8): Uint8Array {
  return encode({
    width: image.width,
    height: image.height,
    data: image.pixels,
    channels: 1,
    depth: 8,
  });
}
