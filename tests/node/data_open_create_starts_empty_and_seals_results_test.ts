/**
 * `node data open --create`: the output side of a job starts empty on the
 * node, so no output container travels from the client. Rootless, nothing is
 * made until close seals the results under the key; privileged, a container
 * of --size is made under the key and mounted.
 */
import assert from "node:assert/strict";
import { hasDeviceMapper } from "../../src/luks/cryptsetup.ts";
import { MIN_OUTPUT_BYTES } from "../../src/luks/size.ts";
import { exists } from "../../src/util/files.ts";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { cli, names } from "../luks/_fixture.ts";

async function setup(base: string) {
  const runtime = `${base}/runtime`;
  await Deno.mkdir(runtime, { mode: 0o700 });
  const key = `${base}/luks.key`;
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
  return {
    runtime,
    key,
    img: `${base}/output.img`,
    results: `${base}/output.results.img`,
    mp: `${base}/out`,
  };
}

const open = (s: Awaited<ReturnType<typeof setup>>, extra: string[]) =>
  cli(
    [
      "node",
      "data",
      "open",
      s.img,
      "--create",
      "--key-file",
      s.key,
      "--mount-point",
      s.mp,
      ...extra,
    ],
    s.runtime,
  );

Deno.test("node data open --create (rootless) starts empty; close seals the results under the key", async () => {
  await using dir = await tempDir();
  const s = await setup(dir.path);
  const opened = await open(s, ["--mode", "rootless"]);
  assert.equal(opened.code, 0, opened.stderr);
  assert.deepEqual(await names(s.mp), []);
  assert.ok(!(await exists(s.img)), "rootless --create made a container");
  await Deno.writeTextFile(`${s.mp}/b.txt`, "result\n");
  const closed = await cli(
    ["node", "data", "close", "--mount-point", s.mp, "--seal-to", s.results],
    s.runtime,
  );
  assert.equal(closed.code, 0, closed.stderr);
  assert.deepEqual(await names(s.runtime), [], "private storage left behind");
  const back = await cli(
    ["data", "open", s.results, "--key", s.key, "--out", `${dir.path}/back`],
    s.runtime,
  );
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await Deno.readTextFile(`${dir.path}/back/b.txt`), "result\n");
});

Deno.test("node data open --create refuses an existing container, a bad key and a lone --size", async () => {
  await using dir = await tempDir();
  const s = await setup(dir.path);

  // --size without --create: a usage error before anything is touched.
  const lone = await cli(
    ["node", "data", "open", s.img, "--size", "8", "--key-file", s.key, "--mount-point", s.mp],
    s.runtime,
  );
  assert.equal(lone.code, 2, lone.stderr);
  assertOneLineError(lone.stderr);
  assert.match(lone.stderr, /--size needs --create/);

  // A file at the container path is never overwritten.
  await Deno.writeTextFile(s.img, "not mine\n");
  const clash = await open(s, ["--mode", "rootless"]);
  assert.equal(clash.code, 3, clash.stderr);
  assertOneLineError(clash.stderr);
  assert.match(clash.stderr, /cannot create the container .*output\.img.*: it exists/);
  assert.equal(await Deno.readTextFile(s.img), "not mine\n");
  await Deno.remove(s.img);

  // The results will be sealed with the key: a key that cannot serve is refused now.
  await Deno.writeFile(s.key, new Uint8Array(0), { mode: 0o600 });
  const badKey = await open(s, ["--mode", "rootless"]);
  assert.notEqual(badKey.code, 0);
  assertOneLineError(badKey.stderr);
  assert.ok(!(await exists(s.mp)), "a mount point was left after the refusal");
  assert.deepEqual(await names(s.runtime), []);
});

const dm = await hasDeviceMapper();

Deno.test({
  name: "node data open --create (privileged) makes a container of --size under the key",
  // Needs root and a kernel with device-mapper; the rootless path is above.
  ignore: !dm,
  fn: async () => {
    await using dir = await tempDir();
    const s = await setup(dir.path);
    const mib = 2 * MIN_OUTPUT_BYTES / (1 << 20);
    const opened = await open(s, ["--mode", "privileged", "--size", String(mib)]);
    assert.equal(opened.code, 0, opened.stderr);
    assert.ok(await exists(s.img), "no container was made");
    await Deno.writeTextFile(`${s.mp}/b.txt`, "result\n");
    const closed = await cli(
      ["node", "data", "close", "--mount-point", s.mp, "--seal-to", s.results],
      s.runtime,
    );
    assert.equal(closed.code, 0, closed.stderr);
    const back = await cli(
      ["data", "open", s.results, "--key", s.key, "--out", `${dir.path}/back`],
      s.runtime,
    );
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await Deno.readTextFile(`${dir.path}/back/b.txt`), "result\n");
  },
});
