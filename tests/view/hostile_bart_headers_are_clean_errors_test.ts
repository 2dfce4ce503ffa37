import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { MAX_DIMS, parseHeader } from "../../src/view/cfl.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { writeRawCfl } from "./cfl_test_data.ts";

function rejects(text: string, pattern: RegExp): void {
  assert.throws(() => parseHeader(text), (err: unknown) => {
    assert.ok(err instanceof SealbatchError, `not a SealbatchError: ${err}`);
    assert.equal(err.kind, "input");
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("a BART header parses to its sizes", () => {
  const h = parseHeader("# Dimensions\n256 256 1 1 1 1 1 1 1 1 1 1 1 1 1 1 \n# Command\nx\n");
  assert.equal(h.dims.length, 16);
  assert.equal(h.samples, 65536);
});

Deno.test("hostile or broken BART headers are refused before anything is allocated", () => {
  rejects("", /no "# Dimensions" line/);
  rejects("# Dimensions\n", /no sizes/);
  rejects("# Dimensions\n256 -1\n", /"-1" is not a positive integer/);
  rejects("# Dimensions\n256 0\n", /"0" is not a positive integer/);
  rejects("# Dimensions\n256 1e3\n", /"1e3" is not a positive integer/);
  rejects("# Dimensions\n256 0x10\n", /"0x10"/);
  rejects(`# Dimensions\n${Array(MAX_DIMS + 1).fill(1).join(" ")}\n`, /17 dimensions/);
  // 2^62 samples: the product overflows any buffer; it must be refused, not attempted.
  rejects("# Dimensions\n2147483648 2147483648\n", /describe more than \d+ bytes/);
  rejects("# Dimensions\n99999999999 1\n", /not a positive integer/);
});

Deno.test("view refuses a .cfl whose size does not match its header, in one line", async () => {
  await using dir = await tempDir();
  await writeRawCfl(`${dir.path}/x`, [4, 4], () => [1, 0]);
  await Deno.writeTextFile(`${dir.path}/x.hdr`, "# Dimensions\n4 8\n");
  const r = await runCli(["view", `${dir.path}/x.cfl`, "--out", `${dir.path}/x.png`]);
  assert.equal(r.code, 3);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /128 bytes, but its header describes 32 complex samples \(256 bytes\)/);
  await assert.rejects(Deno.stat(`${dir.path}/x.png`), Deno.errors.NotFound);
});

Deno.test("view reports a missing header, an oversized header and an existing output cleanly", async () => {
  await using dir = await tempDir();
  let r = await runCli(["view", `${dir.path}/none.cfl`, "--out", `${dir.path}/o.png`]);
  assert.equal(r.code, 3);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /none\.hdr": no such file/);

  await Deno.writeTextFile(`${dir.path}/big.hdr`, "# Dimensions\n1\n" + "#".repeat(70000));
  await Deno.writeFile(`${dir.path}/big.cfl`, new Uint8Array(8));
  r = await runCli(["view", `${dir.path}/big`, "--out", `${dir.path}/o.png`]);
  assert.equal(r.code, 3);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /larger than 65536 bytes/);

  await writeRawCfl(`${dir.path}/ok`, [2, 2], () => [1, 0]);
  await Deno.writeTextFile(`${dir.path}/o.png`, "keep me");
  r = await runCli(["view", `${dir.path}/ok`, "--out", `${dir.path}/o.png`]);
  assert.equal(r.code, 3);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /already exists/);
  assert.equal(await Deno.readTextFile(`${dir.path}/o.png`), "keep me");
});
