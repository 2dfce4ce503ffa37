/**
 * A sealed container holds no byte of the sealed data in plaintext: not in
 * the encrypted data, and not in the header area that `reencrypt --encrypt`
 * writes over the start of the plain file system (the gap between the key
 * slot and the data keeps that start unless it is wiped). Small inputs, whose
 * file data and names lie in the first blocks, show it best.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { cli } from "../luks/_fixture.ts";

function count(haystack: Uint8Array, needle: Uint8Array): number {
  let n = 0;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    n++;
  }
  return n;
}

for (const kib of [1, 300, 900]) {
  Deno.test(`a sealed ${kib} KiB input leaves no plaintext, file name included, anywhere in the container`, async () => {
    await using dir = await tempDir();
    const src = `${dir.path}/src`;
    const runtime = `${dir.path}/runtime`;
    await Deno.mkdir(src);
    await Deno.mkdir(runtime, { mode: 0o700 });
    const marker = "PLAINTEXT-MARKER-7f3a";
    const name = "patient-name-marker-91c2.txt";
    const line = `${marker}\n`;
    await Deno.writeTextFile(`${src}/${name}`, line.repeat(Math.ceil((kib * 1024) / line.length)));
    const img = `${dir.path}/c.img`;
    const sealed = await cli(["data", "seal", src, "--out", img, "--headroom", "0"], runtime);
    assert.equal(sealed.code, 0, sealed.stderr);
    const bytes = await Deno.readFile(img);
    const enc = new TextEncoder();
    assert.equal(count(bytes, enc.encode(marker)), 0, "file data in plaintext");
    assert.equal(count(bytes, enc.encode(name)), 0, "file name in plaintext");

    const opened = await cli(
      ["data", "open", img, "--key", `${dir.path}/c.key`, "--out", `${dir.path}/o`],
      runtime,
    );
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(
      await Deno.readTextFile(`${dir.path}/o/${name}`),
      await Deno.readTextFile(`${src}/${name}`),
    );
  });
}
