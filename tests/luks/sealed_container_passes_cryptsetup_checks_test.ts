import assert from "node:assert/strict";
import { HEADER_BYTES } from "../../src/luks/cryptsetup.ts";
import { exec } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";
import { sealSample } from "./_fixture.ts";

Deno.test("a sealed container is standard LUKS2 that cryptsetup accepts with the key file", async () => {
  await using dir = await tempDir();
  const { img, key, sealed } = await sealSample(dir.path);
  assert.equal(sealed.code, 0, sealed.stderr);

  const keyInfo = await Deno.stat(key);
  assert.equal(keyInfo.mode! & 0o777, 0o600);
  assert.equal(keyInfo.size, 64);

  await exec("cryptsetup", ["isLuks", "--type", "luks2", img]);
  const meta = JSON.parse(
    (await exec("cryptsetup", ["luksDump", "--disable-locks", "--dump-json-metadata", img])).text,
  );
  const segment = meta.segments["0"];
  assert.equal(segment.encryption, "aes-xts-plain64");
  assert.equal(segment.sector_size, 4096);
  // The small header: 16 KiB metadata copies, data at 512 KiB, one key slot.
  assert.equal(segment.offset, String(HEADER_BYTES));
  assert.equal(HEADER_BYTES, 512 * 1024);
  assert.equal(meta.config.json_size, String(16 * 1024 - 4096));
  const slot = meta.keyslots["0"];
  assert.equal(slot.key_size, 64, "512-bit volume key");
  assert.equal(slot.kdf.type, "pbkdf2");
  assert.equal(slot.af.stripes, 4000);
  assert.ok(
    Number(slot.area.offset) + Number(slot.area.size) <= HEADER_BYTES,
    "the key slot lies inside the header",
  );
  // Header + a whole number of MiB of file system: the encryption's scratch tail is gone.
  assert.equal((await Deno.stat(img)).size % (1024 * 1024), HEADER_BYTES);
  const test = await exec("cryptsetup", [
    "open",
    "--test-passphrase",
    "--disable-locks",
    "--key-file",
    key,
    img,
  ], { okCodes: [0, 1, 2] });
  assert.equal(test.code, 0, test.stderr);
});

Deno.test("data inspect shows header facts without a key and says whether a key opens it", async () => {
  await using dir = await tempDir();
  const { img, key, runtime, sealed } = await sealSample(dir.path);
  assert.equal(sealed.code, 0, sealed.stderr);
  const { cli } = await import("./_fixture.ts");
  const plain = await cli(["--json", "data", "inspect", img], runtime);
  assert.equal(plain.code, 0, plain.stderr);
  const facts = JSON.parse(plain.stdout);
  assert.equal(facts.version, 2);
  assert.equal(facts.sectorSize, 4096);
  assert.equal(facts.dataOffset, HEADER_BYTES);
  assert.match(facts.uuid, /^[0-9a-f-]{36}$/);
  assert.equal(facts.keyslots.length, 1);

  const withKey = await cli(["data", "inspect", img, "--key", key], runtime);
  assert.equal(withKey.code, 0, withKey.stderr);
  assert.match(withKey.stdout, /key: +opens the container/);

  const other = `${dir.path}/other.key`;
  await Deno.writeFile(other, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
  const wrong = await cli(["data", "inspect", img, "--key", other], runtime);
  assert.equal(wrong.code, 4);
  assert.match(wrong.stdout, /does NOT open/);
});
