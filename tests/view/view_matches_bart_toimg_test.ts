import assert from "node:assert/strict";
import { decode } from "fast-png";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";

const noBart = !(await hasProgram("bart"));

Deno.test({
  name: "view of the reconstructed phantom matches 'bart toimg' within one gray level (needs bart)",
  ignore: noBart,
  async fn() {
    await using dir = await tempDir();
    const d = dir.path;
    assert.equal((await runCli(["sample", "shepp-logan", "--out", d])).code, 0);
    await exec("bart", ["fft", "-u", "-i", "3", `${d}/shepp_logan`, `${d}/rec`]);
    await exec("bart", ["toimg", `${d}/rec`, `${d}/ref`]);
    const r = await runCli(["view", `${d}/rec.cfl`, "--out", `${d}/ours.png`]);
    assert.equal(r.code, 0, r.stderr);

    const ours = decode(await Deno.readFile(`${d}/ours.png`));
    const ref = decode(await Deno.readFile(`${d}/ref.png`));
    assert.equal(ours.width, ref.width);
    assert.equal(ours.height, ref.height);
    let worst = 0;
    let bright = 0;
    for (let i = 0; i < ours.width * ours.height; i++) {
      // toimg writes RGB with equal channels; the red one is the gray level.
      const a = Number(ours.data[i]);
      worst = Math.max(worst, Math.abs(a - Number(ref.data[i * ref.channels])));
      if (a > 128) bright++;
    }
    assert.ok(worst <= 1, `largest difference ${worst} gray levels`);
    assert.ok(bright > 100, "the image is not blank");
  },
});
