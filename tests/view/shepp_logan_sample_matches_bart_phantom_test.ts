import assert from "node:assert/strict";
import { ROOT, runCli, tempDir } from "../_helpers/cli.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";
import { sheppLoganKspace } from "../../src/sample/shepp_logan.ts";
import { readRawCfl } from "./cfl_test_data.ts";

const N = 256;
const noBart = !(await hasProgram("bart"));
const FIXTURE = `${ROOT}/../shared/fixtures/shepp_logan/shepp_logan`;
const noFixture = !(await Deno.stat(`${FIXTURE}.cfl`).then(() => true, () => false));

/** Largest sample difference relative to the largest sample. */
function relativeMaxError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    max = Math.max(max, Math.abs(b[i]!));
  }
  return diff / max;
}

/** Pearson correlation of the real parts. */
function correlation(a: Float32Array, b: Float32Array): number {
  const n = a.length / 2;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) (ma += a[2 * i]!), (mb += b[2 * i]!);
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[2 * i]! - ma;
    const y = b[2 * i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

Deno.test("sample shepp-logan writes a 256x256 BART pair and refuses to overwrite it", async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/in`;
  let r = await runCli(["sample", "shepp-logan", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const hdr = await Deno.readTextFile(`${out}/shepp_logan.hdr`);
  assert.match(hdr, /^# Dimensions\n256 256( 1){14} \n/);
  assert.equal((await Deno.stat(`${out}/shepp_logan.cfl`)).size, N * N * 8);
  assert.equal(
    relativeMaxError(await readRawCfl(`${out}/shepp_logan.cfl`), sheppLoganKspace(N)),
    0,
  );
  r = await runCli(["sample", "shepp-logan", "--out", out]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /already exists/);
});

Deno.test({
  name: "the generated k-space equals the tutorial's shepp_logan.cfl",
  ignore: noFixture,
  async fn() {
    const err = relativeMaxError(sheppLoganKspace(N), await readRawCfl(`${FIXTURE}.cfl`));
    assert.ok(err < 1e-6, `relative error ${err}`);
  },
});

Deno.test({
  name: "the generated k-space equals 'bart phantom -k -x 256' (needs bart)",
  ignore: noBart,
  async fn() {
    await using dir = await tempDir();
    await exec("bart", ["phantom", "-k", "-x", String(N), `${dir.path}/ref`]);
    const err = relativeMaxError(sheppLoganKspace(N), await readRawCfl(`${dir.path}/ref.cfl`));
    assert.ok(err < 1e-6, `relative error ${err}`);
  },
});

Deno.test({
  name: "'bart fft -u -i 3' of the sample reconstructs the phantom image (needs bart)",
  ignore: noBart,
  async fn() {
    await using dir = await tempDir();
    const r = await runCli(["sample", "shepp-logan", "--out", dir.path]);
    assert.equal(r.code, 0, r.stderr);
    await exec("bart", ["fft", "-u", "-i", "3", `${dir.path}/shepp_logan`, `${dir.path}/rec`]);
    await exec("bart", ["phantom", "-x", String(N), `${dir.path}/img`]);
    const rec = await readRawCfl(`${dir.path}/rec.cfl`);
    const img = await readRawCfl(`${dir.path}/img.cfl`);
    // Not identical: the sampled k-space is band-limited (Gibbs ringing at edges).
    const c = correlation(rec, img);
    assert.ok(c > 0.95, `correlation ${c}`);
  },
});
