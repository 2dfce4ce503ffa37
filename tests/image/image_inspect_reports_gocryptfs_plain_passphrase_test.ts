/**
 * The other formats: gocryptfs (unprivileged build) is encrypted and its key
 * is checked by decrypting the wrapped key; a plain squashfs is not encrypted
 * (--require-encrypted exits 4); a passphrase-encrypted image has no wrapped
 * key, so no RSA key can open it.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { makeTestImage } from "./_sif_images.ts";

Deno.test("gocryptfs image: encrypted, key checked through the wrapped key", async () => {
  await using dir = await tempDir();
  const keys = await generateImageKeyPair(2048);
  const pri = `${dir.path}/rsa_pri.pem`;
  await Deno.writeTextFile(pri, keys.privatePem, { mode: 0o600 });
  const sif = `${dir.path}/app.sif`;
  await makeTestImage(sif, { kind: "gocryptfs", publicPem: keys.publicPem });
  const r = await runCli(["--json", "image", "inspect", sif, "--key", pri, "--require-encrypted"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.format, "gocryptfs");
  assert.equal(report.encrypted, true);
  assert.equal(report.primaryPartition.fsType, "Gocryptfs squashfs");
  assert.equal(report.luks2, null);
  assert.deepEqual(report.keyCheck, { keyBits: 2048, messageDecrypted: true, luks2Opens: null });
});

Deno.test("plain squashfs image: not encrypted; --require-encrypted exits 4", async () => {
  await using dir = await tempDir();
  const sif = `${dir.path}/plain.sif`;
  await makeTestImage(sif, { kind: "plain" });
  const r = await runCli(["--json", "image", "inspect", sif]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).format, "plain");
  assert.equal(JSON.parse(r.stdout).encrypted, false);
  const req = await runCli(["image", "inspect", sif, "--require-encrypted"]);
  assert.equal(req.code, 4);
  assertOneLineError(req.stderr);
  assert.match(req.stderr, /is not encrypted \(format plain\)/);
});

const noCryptsetup = !(await hasProgram("cryptsetup"));
Deno.test({
  name: "passphrase-encrypted LUKS2 image: encrypted, but an RSA key is refused" +
    (noCryptsetup ? " (skipped: cryptsetup missing)" : ""),
  ignore: noCryptsetup,
  fn: async () => {
    await using dir = await tempDir();
    const keys = await generateImageKeyPair(2048);
    const pri = `${dir.path}/rsa_pri.pem`;
    await Deno.writeTextFile(pri, keys.privatePem, { mode: 0o600 });
    const sif = `${dir.path}/pass.sif`;
    await makeTestImage(sif, { kind: "luks2-passphrase" });
    const r = await runCli(["--json", "image", "inspect", sif]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).keyMode, "passphrase");
    const k = await runCli(["image", "inspect", sif, "--key", pri]);
    assert.equal(k.code, 4);
    assertOneLineError(k.stderr);
    assert.match(k.stderr, /encrypted with a passphrase, not an RSA key/);
  },
});
