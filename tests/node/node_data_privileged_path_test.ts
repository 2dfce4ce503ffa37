import assert from "node:assert/strict";
import { hasDeviceMapper } from "../../src/luks/cryptsetup.ts";
import { tempDir } from "../_helpers/cli.ts";
import { cli } from "../luks/_fixture.ts";

const dm = await hasDeviceMapper();
if (!dm) {
  console.error(
    "skipping privileged node data test: needs root and a kernel with device-mapper",
  );
}

Deno.test({
  name:
    "node data open (privileged) maps and mounts nodev,nosuid,noexec; close unmounts and unmaps",
  ignore: !dm,
  fn: async () => {
    await using dir = await tempDir();
    const src = `${dir.path}/src`;
    const runtime = `${dir.path}/runtime`;
    await Deno.mkdir(src);
    await Deno.mkdir(runtime);
    await Deno.writeTextFile(`${src}/in.txt`, "input\n");
    const img = `${dir.path}/in.img`;
    assert.equal(
      (await cli(["data", "seal", src, "--out", img, "--headroom", "8"], runtime)).code,
      0,
    );
    const mp = `${dir.path}/mnt`;
    const opened = await cli(
      [
        "node",
        "data",
        "open",
        img,
        "--key-file",
        `${dir.path}/in.key`,
        "--mount-point",
        mp,
        "--mode",
        "privileged",
      ],
      runtime,
    );
    assert.equal(opened.code, 0, opened.stderr);
    const mounts = await Deno.readTextFile("/proc/self/mounts");
    const line = mounts.split("\n").find((l) => l.split(" ")[1] === mp) ?? "";
    for (const opt of ["nodev", "nosuid", "noexec"]) assert.match(line, new RegExp(opt));
    assert.equal(await Deno.readTextFile(`${mp}/in.txt`), "input\n");
    await Deno.writeTextFile(`${mp}/out.txt`, "result\n");
    const closed = await cli(["node", "data", "close", "--mount-point", mp], runtime);
    assert.equal(closed.code, 0, closed.stderr);
    const back = await cli([
      "data",
      "open",
      img,
      "--key",
      `${dir.path}/in.key`,
      "--out",
      `${dir.path}/out`,
    ], runtime);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await Deno.readTextFile(`${dir.path}/out/out.txt`), "result\n");
  },
});
