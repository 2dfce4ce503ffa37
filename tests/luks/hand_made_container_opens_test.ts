import assert from "node:assert/strict";
import { exec } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";
import { cli, names, sampleTree, snapshot } from "./_fixture.ts";

// Without device-mapper a container cannot be filled through `cryptsetup open`;
// the closest hand-made equivalent uses cryptsetup's own defaults: argon2id
// key slot, 512-byte sectors, a plain mkfs.ext4 file system (1 KiB blocks).
Deno.test("a container made by hand with mkfs.ext4 and cryptsetup (argon2id) opens with data open", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime);
  await sampleTree(src);
  const img = `${dir.path}/hand.img`;
  const key = `${dir.path}/hand.key`;
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
  await Deno.writeFile(img, new Uint8Array());
  await Deno.truncate(img, 24 * 1024 * 1024);
  await exec("mkfs.ext4", ["-q", "-F", "-d", src, img]);
  await Deno.truncate(img, 56 * 1024 * 1024);
  await exec("cryptsetup", [
    "reencrypt",
    "--encrypt",
    "--type",
    "luks2",
    "--reduce-device-size",
    "32M",
    "--pbkdf",
    "argon2id",
    "--pbkdf-memory",
    "65536",
    "--iter-time",
    "200",
    "--force-offline-reencrypt",
    "--disable-locks",
    "--batch-mode",
    "--key-file",
    key,
    img,
  ]);
  const meta = JSON.parse(
    (await exec("cryptsetup", ["luksDump", "--disable-locks", "--dump-json-metadata", img])).text,
  );
  assert.equal(meta.keyslots["0"].kdf.type, "argon2id");
  assert.equal(meta.segments["0"].sector_size, 512);

  const out = `${dir.path}/out`;
  const res = await cli(["data", "open", img, "--key", key, "--out", out], runtime);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(await snapshot(out), await snapshot(src));
  assert.deepEqual(await names(runtime), []);
});
