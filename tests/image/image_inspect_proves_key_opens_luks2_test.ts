/**
 * `image inspect` on a real LUKS2-format image (cryptsetup luksFormat
 * partition, 64-byte key RSA-OAEP wrapped to the image key, as Apptainer's
 * root build makes it): reports it, and with --key proves, rootless, that the
 * key opens the partition's LUKS2 header; a wrong key or a mismatched wrapped
 * key is a refusal (exit 4).
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { makeTestImage } from "./_sif_images.ts";

const noCryptsetup = !(await hasProgram("cryptsetup"));
const skip = noCryptsetup ? " (skipped: cryptsetup missing)" : "";

Deno.test({
  name: `inspect --key opens the LUKS2 header of a real encrypted image${skip}`,
  ignore: noCryptsetup,
  fn: async () => {
    await using dir = await tempDir();
    const keys = await generateImageKeyPair(4096);
    const pri = `${dir.path}/rsa_pri.pem`;
    await Deno.writeTextFile(pri, keys.privatePem, { mode: 0o600 });
    const sif = `${dir.path}/app.sif`;
    await makeTestImage(sif, { kind: "luks2", publicPem: keys.publicPem });
    // A runtime dir of its own, so the check below sees only this test's private directories.
    const runtime = `${dir.path}/runtime`;
    await Deno.mkdir(runtime, { mode: 0o700 });
    const env = { XDG_RUNTIME_DIR: runtime };

    const plain = await runCli(["--json", "image", "inspect", sif]);
    assert.equal(plain.code, 0, plain.stderr);
    const report = JSON.parse(plain.stdout);
    assert.equal(report.format, "luks2");
    assert.equal(report.encrypted, true);
    assert.equal(report.keyMode, "pem");
    assert.equal(report.header.arch, "amd64");
    assert.equal(report.header.launchScript, "#!/usr/bin/env run-singularity\n");
    assert.equal(report.primaryPartition.fsType, "Encrypted squashfs");
    assert.equal(report.luks2.dataOffset, 16 * 1024 * 1024);
    assert.equal(report.luks2.cipher, "aes-xts-plain64");
    assert.equal(report.keyMessage.size, 745);
    assert.equal(report.keyCheck, null);
    assert.deepEqual(
      report.objects.map((o: { type: string; linkedId: number | null }) => [o.type, o.linkedId]),
      [["Def.FILE", null], ["FS", null], ["Cryptographic Message", 2]],
    );

    const withKey = await runCli(["--json", "image", "inspect", sif, "--key", pri], { env });
    assert.equal(withKey.code, 0, withKey.stderr);
    assert.deepEqual(JSON.parse(withKey.stdout).keyCheck, {
      keyBits: 4096,
      messageDecrypted: true,
      luks2Opens: true,
    });

    const human = await runCli(["image", "inspect", sif, "--key", pri, "--require-encrypted"], {
      env,
    });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^format: +luks2 \(encrypted/m);
    assert.match(human.stdout, /^key check: +ok: the 4096-bit key .* opens a LUKS2 keyslot/m);
    assert.match(
      human.stdout,
      /^3 +\|1 +\|2 +\|\d+-\d+ +\|Cryptographic Message \(PEM\/RSA-OAEP\)$/m,
    );
    assert.ok(!human.stdout.includes(keys.privatePem.slice(40, 80)));
    // The header copy lived in a private directory that is gone again.
    assert.deepEqual([...Deno.readDirSync(runtime)], []);
  },
});

Deno.test({
  name:
    `inspect --key refuses a wrong key and a wrapped key that does not open the LUKS2 header${skip}`,
  ignore: noCryptsetup,
  fn: async () => {
    await using dir = await tempDir();
    const [right, wrong] = [await generateImageKeyPair(2048), await generateImageKeyPair(2048)];
    const wrongPri = `${dir.path}/wrong.pem`;
    await Deno.writeTextFile(wrongPri, wrong.privatePem, { mode: 0o600 });
    const rightPri = `${dir.path}/right.pem`;
    await Deno.writeTextFile(rightPri, right.privatePem, { mode: 0o600 });

    const sif = `${dir.path}/app.sif`;
    await makeTestImage(sif, { kind: "luks2", publicPem: right.publicPem });
    const r = await runCli(["image", "inspect", sif, "--key", wrongPri]);
    assert.equal(r.code, 4, r.stderr);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, /the key does not open this image: RSA-OAEP decryption .* failed/);

    // Wrapped key decrypts, but the partition was formatted with another passphrase.
    const mismatched = `${dir.path}/mismatched.sif`;
    await makeTestImage(mismatched, {
      kind: "luks2",
      publicPem: right.publicPem,
      luksPassphrase: crypto.getRandomValues(new Uint8Array(64)),
    });
    const m = await runCli(["image", "inspect", mismatched, "--key", rightPri]);
    assert.equal(m.code, 4, m.stderr);
    assertOneLineError(m.stderr);
    assert.match(m.stderr, /opens no LUKS2 keyslot/);

    // A group-readable key file is refused before anything is decrypted.
    await Deno.chmod(rightPri, 0o644);
    const g = await runCli(["image", "inspect", sif, "--key", rightPri]);
    assert.equal(g.code, 3, g.stderr);
    assert.match(g.stderr, /readable by group or others/);
  },
});
