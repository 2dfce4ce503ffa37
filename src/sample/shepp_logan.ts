/**
 * The Shepp-Logan phantom's k-space, computed analytically: the Fourier
 * transform of each ellipse is a scaled, shifted jinc, so the sum of the ten
 * ellipses sampled on the Cartesian grid is exactly the data `bart phantom -k`
 * makes (modified Shepp-Logan intensities, BART's grid and orientation). This
 * way the project carries its sample as code rather than as a binary file.
 */
import { writeCfl } from "../view/cfl.ts";

interface Ellipse {
  intensity: number;
  axis: [number, number];
  center: [number, number];
  /** Radians. */
  angle: number;
}

const DEG = Math.PI / 180;

/** Modified Shepp-Logan (Toft): the contrast BART's `phantom` uses. */
const SHEPP_LOGAN_MOD: readonly Ellipse[] = [
  { intensity: 1.0, axis: [0.69, 0.92], center: [0, 0], angle: 0 },
  { intensity: -0.8, axis: [0.6624, 0.874], center: [0, -0.0184], angle: 0 },
  { intensity: -0.2, axis: [0.11, 0.31], center: [0.22, 0], angle: -18 * DEG },
  { intensity: -0.2, axis: [0.16, 0.41], center: [-0.22, 0], angle: 18 * DEG },
  { intensity: 0.1, axis: [0.21, 0.25], center: [0, 0.35], angle: 0 },
  { intensity: 0.1, axis: [0.046, 0.046], center: [0, 0.1], angle: 0 },
  { intensity: 0.1, axis: [0.046, 0.046], center: [0, -0.1], angle: 0 },
  { intensity: 0.1, axis: [0.046, 0.023], center: [-0.08, -0.605], angle: 0 },
  { intensity: 0.1, axis: [0.023, 0.023], center: [0, -0.606], angle: 0 },
  { intensity: 0.1, axis: [0.023, 0.046], center: [0.06, -0.605], angle: 0 },
];

/**
 * Bessel function of the first kind, order one: rational approximations
 * (|x| < 8) and the asymptotic form with polynomial corrections (|x| >= 8),
 * accurate to about 1e-8, well below float32 resolution.
 */
export function besselJ1(x: number): number {
  const ax = Math.abs(x);
  if (ax < 8) {
    const y = x * x;
    const num = x * (72362614232.0 +
      y * (-7895059235.0 +
          y * (242396853.1 + y * (-2972611.439 + y * (15704.4826 + y * -30.16036606)))));
    const den = 144725228442.0 +
      y * (2300535178.0 + y * (18583304.74 + y * (99447.43394 + y * (376.9991397 + y))));
    return num / den;
  }
  const z = 8 / ax;
  const y = z * z;
  const xx = ax - 2.356194491;
  const p = 1 +
    y * (0.183105e-2 + y * (-0.3516396496e-4 + y * (0.2457520174e-5 + y * -0.240337019e-6)));
  const qq = 0.04687499995 +
    y * (-0.2002690873e-3 + y * (0.8449199096e-5 + y * (-0.88228987e-6 + y * 0.105787412e-6)));
  const ans = Math.sqrt(0.636619772 / ax) * (Math.cos(xx) * p - z * Math.sin(xx) * qq);
  return x < 0 ? -ans : ans;
}

/** 2 J1(x) / x, which is 1 at 0. */
function jinc(x: number): number {
  return x === 0 ? 1 : (2 * besselJ1(x)) / x;
}

// BART divides by sqrtf(2 pi), a float; the same rounding keeps the scale identical.
const NORM = 2 / Math.fround(Math.sqrt(2 * Math.PI));

/** One k-space sample of all ellipses at normalised frequency (kx, ky). */
function sample(kx: number, ky: number, out: Float32Array, at: number): void {
  // BART rotates the frequency by 90 degrees so the phantom stands upright.
  const px = -ky;
  const py = kx;
  let re = 0;
  let im = 0;
  for (const e of SHEPP_LOGAN_MOD) {
    const c = Math.cos(e.angle);
    const s = Math.sin(e.angle);
    const rx = c * px + s * py;
    const ry = s * px - c * py;
    const radius = Math.hypot(rx * e.axis[0], ry * e.axis[1]);
    const amp = e.intensity * jinc(2 * Math.PI * radius) * e.axis[0] * e.axis[1] * NORM;
    const phase = 2 * Math.PI * (px * e.center[0] + py * e.center[1]);
    re += amp * Math.cos(phase);
    im += amp * Math.sin(phase);
  }
  out[at] = re;
  out[at + 1] = im;
}

/** The n x n k-space (interleaved complex, first dimension fastest), as `bart phantom -k -x n`. */
export function sheppLoganKspace(n: number): Float32Array {
  const out = new Float32Array(n * n * 2);
  const half = Math.floor(n / 2);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) sample((i - half) / 2, (j - half) / 2, out, 2 * (j * n + i));
  }
  return out;
}

export const SAMPLE_SIZE = 256;

/**
 * Write `dir/shepp_logan.cfl` and `.hdr`, the tutorial's input, creating `dir`
 * if needed. Returns the base path.
 */
export async function writeSheppLoganSample(dir: string, n = SAMPLE_SIZE): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir.replace(/\/+$/, "") || "/"}/shepp_logan`;
  await writeCfl(base, [n, n], sheppLoganKspace(n), `phantom -x ${n} -k shepp_logan`);
  return base;
}
