import assert from "node:assert/strict";
import { HEADER_ARGS, HEADER_BYTES, KDF_ARGS, REDUCE_BYTES } from "../../src/luks/cryptsetup.ts";
import { exec } from "../../src/util/exec.ts";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { cli, names } from "./_fixture.ts";

const MiB = 1024 * 1024;

/** A container whose ext4 was edited with `debugfs -w` after mkfs (what a key holder could do). */
async function hostileContainer(base: string, edit: string): Promise<{ img: string; key: string }> {
  const src = `${base}/src`;
  await Deno.mkdir(`${src}/sub`, { recursive: true });
  await Deno.writeTextFile(`${src}/a.txt`, "a\n");
  const img = `${base}/h.img`;
  const key = `${base}/h.key`;
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
  await Deno.writeFile(img, new Uint8Array());
  await Deno.truncate(img, 32 * MiB);
  await exec("mkfs.ext4", ["-q", "-F", "-b", "4096", "-d", src, img]);
  await exec("debugfs", ["-w", "-R", edit, img]);
  await Deno.truncate(img, 32 * MiB + REDUCE_BYTES);
  await exec("cryptsetup", [
    "reencrypt",
    "--encrypt",
    "--type",
    "luks2",
    "--sector-size",
    "4096",
    ...KDF_ARGS,
    ...HEADER_ARGS,
    "--reduce-device-size",
    `${REDUCE_BYTES / 1024}k`,
    "--force-offline-reencrypt",
    "--disable-locks",
    "--batch-mode",
    "--key-file",
    key,
    img,
  ], { cwd: base });
  await Deno.truncate(img, HEADER_BYTES + 32 * MiB);
  return { img, key };
}

async function refusedBeforeExtraction(edit: string, message: RegExp): Promise<void> {
  await using dir = await tempDir();
  const { img, key } = await hostileContainer(dir.path, edit);
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(runtime);
  const before = await names(dir.path);
  const res = await cli(["data", "open", img, "--key", key, "--out", `${dir.path}/out`], runtime);
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, message);
  assertOneLineError(res.stderr);
  assert.deepEqual(await names(dir.path), before, "nothing extracted, no staging left");
  assert.deepEqual(await names(runtime), []);
}

Deno.test("an image holding a fifo is refused before anything is extracted", async () => {
  await refusedBeforeExtraction("mknod pipe p", /it holds a special file/);
});

Deno.test("an image whose directory links back to the root (a cycle) is refused", async () => {
  await refusedBeforeExtraction("ln <2> sub/loop", /unsafe to extract \(a directory cycle\)/);
});
