import assert from "node:assert/strict";
import { HEADER_BYTES } from "../../src/luks/cryptsetup.ts";
import { exec } from "../../src/util/exec.ts";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { cli, names, sealSample } from "./_fixture.ts";

/** Open `img` and check the refusal: exit code, message, and nothing left behind. */
async function refused(
  base: string,
  runtime: string,
  img: string,
  key: string,
  code: number,
  message: RegExp,
): Promise<void> {
  const before = await names(base);
  const res = await cli(["data", "open", img, "--key", key, "--out", `${base}/out`], runtime);
  assert.equal(res.code, code, res.stderr);
  assert.match(res.stderr, message);
  assertOneLineError(res.stderr);
  assert.deepEqual(await names(base), before, "no output and no staging directory");
  assert.deepEqual(await names(runtime), [], "private storage is empty");
}

Deno.test("wrong key, truncated, not LUKS, LUKS1 and damaged key slots each get their own refusal", async (t) => {
  await using dir = await tempDir();
  const { img, key, runtime, sealed } = await sealSample(dir.path);
  assert.equal(sealed.code, 0, sealed.stderr);
  const bad = `${dir.path}/bad`;
  await Deno.mkdir(bad);
  const copy = async (name: string) => {
    await Deno.copyFile(img, `${bad}/${name}`);
    return `${bad}/${name}`;
  };

  await t.step("wrong key: exit 4", async () => {
    const other = `${dir.path}/other.key`;
    await Deno.writeFile(other, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
    await refused(bad, runtime, img, other, 4, /the key does not open it \(wrong key file\)/);
  });

  await t.step("truncated inside the header: exit 3", async () => {
    const cut = await copy("cut-header.img");
    await Deno.truncate(cut, HEADER_BYTES / 2);
    await refused(bad, runtime, cut, key, 3, /the container is truncated/);
    await Deno.remove(cut);
  });

  await t.step("truncated inside the file system: exit 3", async () => {
    const cut = await copy("cut-data.img");
    await Deno.truncate(cut, (await Deno.stat(cut)).size - 1024 * 1024);
    await refused(bad, runtime, cut, key, 3, /the container is truncated \(its file system needs/);
    await Deno.remove(cut);
  });

  await t.step("not LUKS: exit 3", async () => {
    const junk = `${bad}/junk.img`;
    await Deno.writeFile(junk, crypto.getRandomValues(new Uint8Array(65536)));
    await refused(bad, runtime, junk, key, 3, /not a LUKS container/);
    await Deno.remove(junk);
  });

  await t.step("LUKS1: exit 3 with a convert hint", async () => {
    const luks1 = `${bad}/luks1.img`;
    await Deno.writeFile(luks1, new Uint8Array(8 * 1024 * 1024));
    await exec("cryptsetup", [
      "luksFormat",
      "--batch-mode",
      "--type",
      "luks1",
      "--disable-locks",
      "--pbkdf-force-iterations",
      "1000",
      "--key-file",
      key,
      luks1,
    ]);
    await refused(bad, runtime, luks1, key, 3, /it is a LUKS1 container; sealbatch needs LUKS2/);
    await Deno.remove(luks1);
  });

  await t.step("damaged key slot area with the right key: exit 3", async () => {
    const damaged = await copy("damaged.img");
    const file = await Deno.open(damaged, { write: true });
    await file.seek(32768, Deno.SeekMode.Start);
    await file.write(crypto.getRandomValues(new Uint8Array(65536)));
    file.close();
    await refused(bad, runtime, damaged, key, 3, /its key slot area is damaged/);
    await Deno.remove(damaged);
  });
});
