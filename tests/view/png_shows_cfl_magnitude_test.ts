import assert from "node:assert/strict";
import { decode } from "fast-png";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { writeRawCfl } from "./cfl_test_data.ts";

// 3 rows (first dimension) x 5 columns; sample i is (i + 1) + i^2 j, so every pixel differs.
const ROWS = 3;
const COLS = 5;
const value = (i: number): [number, number] => [i + 1, i * i];
const magnitude = (i: number) => Math.hypot(...value(i));
const MAX = magnitude(ROWS * COLS - 1);

Deno.test("view writes the magnitude as 8-bit gray, first dimension down the rows", async () => {
  await using dir = await tempDir();
  await writeRawCfl(`${dir.path}/img`, [ROWS, COLS, 1, 1], value);
  const r = await runCli(["view", `${dir.path}/img.cfl`, "--out", `${dir.path}/img.png`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /5x3 linear magnitude/);

  const png = decode(await Deno.readFile(`${dir.path}/img.png`));
  assert.equal(png.width, COLS);
  assert.equal(png.height, ROWS);
  assert.equal(png.channels, 1);
  assert.equal(png.depth, 8);
  for (let row = 0; row < ROWS; row++) {
    for (let col = 0; col < COLS; col++) {
      const expected = Math.round((255 * magnitude(col * ROWS + row)) / MAX);
      assert.equal(png.data[row * COLS + col], expected, `pixel row ${row} col ${col}`);
    }
  }
});

Deno.test("view --log spreads five decades below the maximum over 0..255", async () => {
  await using dir = await tempDir();
  // Magnitudes 1, 0.1, 1e-3, 1e-5 and 1e-7 of the maximum, and an exact zero.
  const mags = [1, 0.1, 1e-3, 1e-5, 1e-7, 0];
  await writeRawCfl(`${dir.path}/k`, [mags.length], (i) => [0, mags[i]!]);
  const r = await runCli(["view", `${dir.path}/k`, "--out", `${dir.path}/k.png`, "--log"]);
  assert.equal(r.code, 0, r.stderr);
  const png = decode(await Deno.readFile(`${dir.path}/k.png`));
  assert.equal(png.width, 1);
  assert.equal(png.height, mags.length);
  assert.deepEqual([...png.data], [255, 204, 102, 0, 0, 0]);
});

Deno.test("view shows the first slice of a multi-slice file and says so", async () => {
  await using dir = await tempDir();
  // Two 2x2 slices; the second is far brighter and must not affect the first's scaling.
  await writeRawCfl(`${dir.path}/s`, [2, 2, 1, 2], (i) => [i < 4 ? i : 1000, 0]);
  const r = await runCli(["--json", "view", `${dir.path}/s.hdr`, "--out", `${dir.path}/s.png`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).slices, 2);
  const png = decode(await Deno.readFile(`${dir.path}/s.png`));
  // column-major input 0,1 | 2,3 -> rows [0, 2], [1, 3]
  assert.deepEqual([...png.data], [0, 170, 85, 255]);
});
