/**
 * `image keygen` writes the PKCS#1 PEM pair Apptainer reads (private key
 * O_EXCL + 0600), and the wrapped-key format agrees with OpenSSL's RSA-OAEP
 * SHA-256 in both directions (OpenSSL stands in for Go's crypto/rsa here).
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { importPrivateKeyPem, importPublicKeyPem } from "../../src/image/keys.ts";
import {
  decodeCryptoMessage,
  unwrapImageKey,
  wrapImageKey,
} from "../../src/image/crypto_message.ts";

const hasOpenssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

async function openssl(args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("openssl", {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  assert.ok(out.success, `openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

const OAEP = [
  "-pkeyopt",
  "rsa_padding_mode:oaep",
  "-pkeyopt",
  "rsa_oaep_md:sha256",
  "-pkeyopt",
  "rsa_mgf1_md:sha256",
];

Deno.test({
  name: "keygen writes PKCS#1 PEM (0600 private key) that OpenSSL reads, never overwriting" +
    (hasOpenssl ? "" : " (skipped: openssl missing)"),
  ignore: !hasOpenssl,
  fn: async () => {
    await using dir = await tempDir();
    const out = `${dir.path}/keys`;
    const r = await runCli(["image", "keygen", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const pri = `${out}/rsa_pri.pem`;
    const pub = `${out}/rsa_pub.pem`;
    assert.equal((await Deno.stat(pri)).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(pri), /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.match(await Deno.readTextFile(pub), /^-----BEGIN RSA PUBLIC KEY-----\n/);
    await openssl(["rsa", "-in", pri, "-check", "-noout"]);
    const text = new TextDecoder().decode(
      await openssl(["rsa", "-RSAPublicKey_in", "-in", pub, "-noout", "-text"]),
    );
    assert.match(text, /Public-Key: \(4096 bit\)/);

    const before = await Deno.readTextFile(pri);
    const again = await runCli(["image", "keygen", "--out", out]);
    assert.equal(again.code, 3);
    assertOneLineError(again.stderr);
    assert.match(again.stderr, /already exists/);
    assert.equal(await Deno.readTextFile(pri), before);
  },
});

Deno.test({
  name:
    "wrapped key: OpenSSL OAEP-SHA256 ciphertext as DER OCTET STRING decrypts, and ours decrypts with OpenSSL" +
    (hasOpenssl ? "" : " (skipped: openssl missing)"),
  ignore: !hasOpenssl,
  fn: async () => {
    await using dir = await tempDir();
    const pri = `${dir.path}/rsa_pri.pem`;
    await openssl(["genrsa", "-traditional", "-out", pri, "4096"]);
    await openssl(["rsa", "-in", pri, "-RSAPublicKey_out", "-out", `${dir.path}/rsa_pub.pem`]);
    await openssl(["rsa", "-in", pri, "-pubout", "-out", `${dir.path}/spki.pem`]);
    const privateKey = await importPrivateKeyPem(await Deno.readTextFile(pri), "pri");
    const publicKey = await importPublicKeyPem(
      await Deno.readTextFile(`${dir.path}/rsa_pub.pem`),
      "pub",
    );
    assert.equal(privateKey.bits, 4096);
    const secret = crypto.getRandomValues(new Uint8Array(64));

    // OpenSSL -> sealbatch: OAEP ciphertext, DER OCTET STRING by asn1parse, PEM MESSAGE.
    const ct = await openssl(
      ["pkeyutl", "-encrypt", "-pubin", "-inkey", `${dir.path}/spki.pem`, ...OAEP],
      secret,
    );
    const hex = [...ct].map((b) => b.toString(16).padStart(2, "0")).join("");
    await openssl([
      "asn1parse",
      "-genstr",
      `FORMAT:HEX,OCTETSTRING:${hex}`,
      "-out",
      `${dir.path}/m.der`,
      "-noout",
    ]);
    const der = await Deno.readFile(`${dir.path}/m.der`);
    const b64 = btoa(String.fromCharCode(...der)).match(/.{1,64}/g)!.join("\n");
    const pem = `-----BEGIN MESSAGE-----\n${b64}\n-----END MESSAGE-----\n`;
    assert.equal(pem.length, 745, "an RSA-4096 message is 745 bytes, as in Apptainer's docs");
    assert.deepEqual(
      await unwrapImageKey(privateKey, new TextEncoder().encode(pem)),
      secret,
    );

    // sealbatch -> OpenSSL.
    const ours = new TextEncoder().encode(await wrapImageKey(publicKey, secret));
    const plain = await openssl(
      ["pkeyutl", "-decrypt", "-inkey", pri, ...OAEP],
      decodeCryptoMessage(ours),
    );
    assert.deepEqual(plain, secret);
  },
});
