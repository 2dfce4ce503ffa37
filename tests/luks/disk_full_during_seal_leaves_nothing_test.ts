import assert from "node:assert/strict";
import { exec } from "../../src/util/exec.ts";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { cli, isRoot, names } from "./_fixture.ts";

if (!isRoot) console.error("skipping disk-full test: mounting a small tmpfs needs root");

Deno.test({
  name: "a full disk during seal leaves no plaintext, no partial container and no key",
  ignore: !isRoot,
  fn: async () => {
    await using dir = await tempDir();
    const small = `${dir.path}/small`;
    await Deno.mkdir(small);
    await exec("mount", ["-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", small]);
    try {
      const src = `${dir.path}/src`;
      await Deno.mkdir(src);
      const bytes = new Uint8Array(16 << 20);
      for (let i = 0; i < bytes.length; i += 65536) {
        crypto.getRandomValues(bytes.subarray(i, i + 65536));
      }
      await Deno.writeFile(`${src}/data.bin`, bytes);
      const runtime = `${small}/runtime`;
      const out = `${small}/out`;
      await Deno.mkdir(runtime, { mode: 0o700 });
      await Deno.mkdir(out);
      // The plain file system (about 17 MiB used) fits the 24 MiB tmpfs; encrypted, all
      // 30 MiB of it are written.
      const res = await cli(
        ["data", "seal", src, "--out", `${out}/data.img`, "--size", "30"],
        runtime,
      );
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /the work directory is full|No space left on device|os error 28/);
      assertOneLineError(res.stderr);
      assert.deepEqual(await names(runtime), []);
      assert.deepEqual(await names(out), []);
    } finally {
      await exec("umount", [small]);
    }
  },
});
