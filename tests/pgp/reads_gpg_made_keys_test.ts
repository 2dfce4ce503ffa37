/** Keys made by gpg 2.2 (RSA and ed25519/cv25519) work with the OpenPGP core, both ways. */
import assert from "node:assert/strict";
import { parsePrivateKey, parsePublicKey } from "../../src/pgp/keys.ts";
import { verifyDetached } from "../../src/pgp/verify.ts";
import { decryptMessage } from "../../src/pgp/decrypt.ts";
import { encryptTo } from "../../src/pgp/encrypt.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { gpgHome } from "./_gpg.ts";

for (const kind of ["rsa", "ed25519"] as const) {
  Deno.test(`gpg ${kind} key: signatures verify with its fingerprint, messages decrypt both ways`, async () => {
    await using gpg = await gpgHome();
    const fpr = await gpg.genKey(`Gpg ${kind} <${kind}@example.org>`, kind);
    const pub = await parsePublicKey(await gpg.exportPublic(fpr), "gpg public key");
    const sec = await parsePrivateKey(await gpg.exportSecret(fpr), "gpg secret key");
    const data = new TextEncoder().encode("exact bytes\r\n with CRLF and trailing space \n");

    const sig = await gpg.run(["--local-user", fpr, "--detach-sign"], { stdin: data });
    const ok = await verifyDetached(data, sig.stdout, pub, "data");
    assert.equal(ok.fingerprint.toUpperCase(), fpr);
    const armored = await gpg.run(["--local-user", fpr, "--armor", "--detach-sign"], {
      stdin: data,
    });
    assert.equal(
      (await verifyDetached(data, armored.stdout, pub, "data")).fingerprint,
      ok.fingerprint,
    );
    const changed = data.slice();
    changed[0] = changed[0]! ^ 1;
    await assert.rejects(
      () => verifyDetached(changed, sig.stdout, pub, "data"),
      (e: unknown) => e instanceof SealbatchError && e.kind === "refused",
    );

    const enc = await gpg.run([
      "--armor",
      "--trust-model",
      "always",
      "--recipient",
      fpr,
      "--encrypt",
    ], {
      stdin: data,
    });
    assert.deepEqual(await decryptMessage(enc.text, sec, "message"), data);

    const ours = await encryptTo(data, pub, "gpg key");
    const dec = await gpg.run(["--decrypt"], { stdin: ours });
    assert.deepEqual(dec.stdout, data);
  });
}
