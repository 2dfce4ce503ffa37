import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { cli, names, sealSample, snapshot } from "./_fixture.ts";

Deno.test("open refuses a non-empty --out without --force and leaves it untouched", async () => {
  await using dir = await tempDir();
  const { img, key, runtime, sealed } = await sealSample(dir.path);
  assert.equal(sealed.code, 0, sealed.stderr);
  const out = `${dir.path}/out`;
  await Deno.mkdir(out);
  await Deno.writeTextFile(`${out}/empty`, "mine");
  const res = await cli(["data", "open", img, "--key", key, "--out", out], runtime);
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, /exists and is not empty/);
  assert.deepEqual(await names(out), ["empty"]);
  assert.equal(await Deno.readTextFile(`${out}/empty`), "mine");
  assert.deepEqual(await names(dir.path), ["data.img", "data.key", "out", "runtime", "src"]);
});

Deno.test("open --force replaces a symlink in --out instead of writing through it", async () => {
  await using dir = await tempDir();
  const { src, img, key, runtime, sealed } = await sealSample(dir.path);
  assert.equal(sealed.code, 0, sealed.stderr);
  const victim = `${dir.path}/victim`;
  await Deno.mkdir(victim);
  await Deno.writeTextFile(`${victim}/deep.txt`, "untouched");
  const out = `${dir.path}/out`;
  await Deno.mkdir(out);
  // `a` in --out points outside; the container has a directory `a`.
  await Deno.symlink(victim, `${out}/a`);
  await Deno.symlink(`${victim}/deep.txt`, `${out}/empty`);
  const res = await cli(["data", "open", img, "--key", key, "--out", out, "--force"], runtime);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(await names(victim), ["deep.txt"]);
  assert.equal(await Deno.readTextFile(`${victim}/deep.txt`), "untouched");
  assert.deepEqual(await snapshot(out), await snapshot(src));
});
