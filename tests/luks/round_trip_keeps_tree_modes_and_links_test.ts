import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { cli, names, sampleTree, snapshot } from "./_fixture.ts";

Deno.test("seal then open restores nested dirs, empty and 100 MB files, unicode names, modes and symlinks", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime, { mode: 0o700 });
  await sampleTree(src);
  // 100 MB of non-repeating bytes, written in chunks (getRandomValues caps at 64 KiB).
  const big = await Deno.open(`${src}/a/big.bin`, { create: true, write: true });
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j < chunk.length; j += 65536) {
      crypto.getRandomValues(chunk.subarray(j, j + 65536));
    }
    await big.write(chunk);
  }
  big.close();

  const img = `${dir.path}/data.img`;
  const sealed = await cli(["data", "seal", src, "--out", img], runtime);
  assert.equal(sealed.code, 0, sealed.stderr);
  const out = `${dir.path}/out`;
  const opened = await cli(
    ["data", "open", img, "--key", `${dir.path}/data.key`, "--out", out],
    runtime,
  );
  assert.equal(opened.code, 0, opened.stderr);

  assert.deepEqual(await snapshot(out), await snapshot(src));
  const outside = await Deno.lstat(`${out}/link-outside`);
  assert.ok(outside.isSymlink, "a symlink out of the tree stays a link");
  assert.deepEqual(await names(runtime), [], "private storage is empty afterwards");
  assert.deepEqual(await names(dir.path), ["data.img", "data.key", "out", "runtime", "src"]);
});
