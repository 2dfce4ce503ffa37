/**
 * The job script closes its output with `--seal-to output.results.img` in both
 * modes; privileged, the container itself holds the results and is renamed.
 */
import assert from "node:assert/strict";
import { hasDeviceMapper } from "../../src/luks/cryptsetup.ts";
import { exists } from "../../src/util/files.ts";
import { tempDir } from "../_helpers/cli.ts";
import { cli } from "../luks/_fixture.ts";

const dm = await hasDeviceMapper();

Deno.test({
  name: "node data close --seal-to (privileged) renames the closed container to the results name",
  // Needs root and a kernel with device-mapper; the rootless path is pinned by
  // sealed_job_seals_results_and_signs_receipt_test.ts.
  ignore: !dm,
  fn: async () => {
    await using dir = await tempDir();
    const src = `${dir.path}/src`;
    const runtime = `${dir.path}/runtime`;
    await Deno.mkdir(src);
    await Deno.mkdir(runtime);
    const img = `${dir.path}/output.img`;
    const results = `${dir.path}/output.results.img`;
    const sealed = await cli(["data", "seal", src, "--out", img, "--headroom", "8"], runtime);
    assert.equal(sealed.code, 0, sealed.stderr);
    const key = `${dir.path}/output.key`;
    const mp = `${dir.path}/mnt`;
    const opened = await cli([
      "node",
      "data",
      "open",
      img,
      "--key-file",
      key,
      "--mount-point",
      mp,
      "--mode",
      "privileged",
    ], runtime);
    assert.equal(opened.code, 0, opened.stderr);
    await Deno.writeTextFile(`${mp}/b.txt`, "result\n");
    const closed = await cli(
      ["node", "data", "close", "--mount-point", mp, "--seal-to", results],
      runtime,
    );
    assert.equal(closed.code, 0, closed.stderr);
    assert.ok(!(await exists(img)), "the container kept its old name");
    const back = await cli(
      ["data", "open", results, "--key", key, "--out", `${dir.path}/out`],
      runtime,
    );
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await Deno.readTextFile(`${dir.path}/out/b.txt`), "result\n");
  },
});
