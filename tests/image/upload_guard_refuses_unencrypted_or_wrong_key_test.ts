/**
 * guardImageUpload (called by every upload path): an unencrypted image is
 * refused unless the job spec allows it (then it warns); a key that does not
 * open the image is refused.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { guardImageUpload } from "../../src/image/guard.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { makeTestImage } from "./_sif_images.ts";

const refused = (re: RegExp) => (e: unknown) =>
  e instanceof SealbatchError && e.kind === "refused" && re.test(e.message);

Deno.test("guard: unencrypted image refused, or allowed with a warning when the spec says so", async () => {
  await using dir = await tempDir();
  const sif = `${dir.path}/plain.sif`;
  await makeTestImage(sif, { kind: "plain" });
  await assert.rejects(() => guardImageUpload(sif, {}), refused(/not encrypted \(format plain\)/));
  const warnings: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    assert.deepEqual(await guardImageUpload(sif, { allowUnencrypted: true }), {
      encrypted: false,
      format: "plain",
    });
  } finally {
    console.error = original;
  }
  assert.match(warnings.join("\n"), /warning: uploading image .* unencrypted/);
});

const noCryptsetup = !(await hasProgram("cryptsetup"));
Deno.test({
  name: "guard: encrypted image passes with its key (path or PEM text), a wrong key is refused" +
    (noCryptsetup ? " (skipped: cryptsetup missing)" : ""),
  ignore: noCryptsetup,
  fn: async () => {
    await using dir = await tempDir();
    const [right, wrong] = [await generateImageKeyPair(2048), await generateImageKeyPair(2048)];
    const pri = `${dir.path}/rsa_pri.pem`;
    await Deno.writeTextFile(pri, right.privatePem, { mode: 0o600 });
    const luks = `${dir.path}/luks.sif`;
    await makeTestImage(luks, { kind: "luks2", publicPem: right.publicPem });
    assert.deepEqual(await guardImageUpload(luks, { privateKey: pri }), {
      encrypted: true,
      format: "luks2",
    });
    assert.deepEqual(await guardImageUpload(luks, { privateKey: right.privatePem }), {
      encrypted: true,
      format: "luks2",
    });
    await assert.rejects(
      () => guardImageUpload(luks, { privateKey: wrong.privatePem }),
      refused(/does not open this image/),
    );
    const goc = `${dir.path}/goc.sif`;
    await makeTestImage(goc, { kind: "gocryptfs", publicPem: right.publicPem });
    assert.deepEqual(await guardImageUpload(goc, {}), { encrypted: true, format: "gocryptfs" });
  },
});
