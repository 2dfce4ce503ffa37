/**
 * Without bart on PATH the demo still runs the whole pipeline: it says why
 * the tutorial's job is replaced, runs the fallback job (the k-space comes
 * back through the sealed round trip unchanged) and draws the k-space.
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { MEMORY_AVAILABLE, memoryDir } from "../run/_memory.ts";

/** A PATH with every program of the current one except bart (symlinks, first match wins). */
async function pathWithoutBart(dir: string): Promise<string> {
  for (const from of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(from)];
    } catch {
      continue; // a PATH entry that does not exist
    }
    for (const e of entries) {
      if (e.name === "bart") continue;
      await Deno.symlink(`${from}/${e.name}`, `${dir}/${e.name}`).catch(() => {});
    }
  }
  return dir;
}

Deno.test({
  name: "sealbatch demo without bart: a notice, the fallback job, a k-space PNG",
  ignore: !MEMORY_AVAILABLE,
  async fn() {
    await using mem = await memoryDir();
    await using tmp = await tempDir("sealbatch-demo-nobart");
    await Deno.mkdir(`${tmp.path}/bin`);
    const PATH = await pathWithoutBart(`${tmp.path}/bin`);
    const r = await runCli(["demo", "--dir", `${tmp.path}/demo`], { env: { ...mem.env, PATH } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: bart is not installed, .*apt-get install bart/);
    assert.match(r.stdout, /k-space \(PNG, bart not installed\): .*\/demo\/kspace\.png/);
    await assert.rejects(Deno.stat(`${tmp.path}/demo/reconstruction.png`), Deno.errors.NotFound);
    assert.equal(decode(await Deno.readFile(`${tmp.path}/demo/kspace.png`)).width, 256);
    // The k-space made the sealed round trip unchanged.
    assert.deepEqual(
      await Deno.readFile(`${tmp.path}/demo/project/results/shepp_logan.cfl`),
      await Deno.readFile(`${tmp.path}/demo/project/input/shepp_logan.cfl`),
    );
  },
});
