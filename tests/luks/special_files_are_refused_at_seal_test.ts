import assert from "node:assert/strict";
import { exec } from "../../src/util/exec.ts";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { cli, isRoot, names } from "./_fixture.ts";

async function sealRefused(make: (src: string) => Promise<void>, kind: RegExp): Promise<void> {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(`${src}/sub`, { recursive: true });
  await Deno.mkdir(runtime);
  await Deno.writeTextFile(`${src}/ok.txt`, "fine\n");
  await make(`${src}/sub`);
  const res = await cli(["data", "seal", src, "--out", `${dir.path}/data.img`], runtime);
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, kind);
  assert.match(res.stderr, /only files, directories and symlinks can be sealed/);
  assertOneLineError(res.stderr);
  assert.deepEqual(await names(dir.path), ["runtime", "src"], "no container, no key");
  assert.deepEqual(await names(runtime), []);
}

Deno.test("a fifo in the directory is refused by name before anything is written", async () => {
  await sealRefused(async (d) => {
    await exec("mkfifo", [`${d}/pipe`]);
  }, /"[^"]*\/sub\/pipe": it is a fifo/);
});

Deno.test("a unix socket in the directory is refused", async () => {
  let listener: Deno.Listener | undefined;
  try {
    await sealRefused((d) => {
      listener = Deno.listen({ transport: "unix", path: `${d}/sock` });
      return Promise.resolve();
    }, /it is a socket/);
  } finally {
    listener?.close();
  }
});

Deno.test({
  name: "a device node in the directory is refused",
  ignore: !isRoot,
  fn: async () => {
    await sealRefused(async (d) => {
      await exec("mknod", [`${d}/null`, "c", "1", "3"]);
    }, /it is a character device/);
  },
});
if (!isRoot) console.error("skipping device node test: mknod needs root");
