import assert from "node:assert/strict";
import { KDF_ARGS } from "../../src/luks/cryptsetup.ts";
import { detachForDecrypt } from "../../src/luks/detach.ts";
import { readLuksHeader } from "../../src/luks/header.ts";
import { exec } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";

const MIB = 1024 * 1024;

// `data open` copies the encrypted data while cryptsetup checks the key; a
// wrong key aborts the copy instead of letting it run to the end.
Deno.test("the encrypted copy stops when it is told the key is wrong, and runs to the end otherwise", async () => {
  await using dir = await tempDir();
  const img = `${dir.path}/big.img`;
  const file = await Deno.open(img, { createNew: true, write: true });
  await file.truncate(96 * MIB);
  file.close();
  await exec("cryptsetup", [
    "luksFormat",
    "--batch-mode",
    "--type",
    "luks2",
    "--disable-locks",
    ...KDF_ARGS,
    "--key-file",
    "-",
    img,
  ], { stdin: crypto.getRandomValues(new Uint8Array(64)) });
  const header = await readLuksHeader(img);
  assert.ok(header.dataSize >= 64 * MIB);

  const stop = new AbortController();
  stop.abort();
  await assert.rejects(
    detachForDecrypt(img, header, `${dir.path}/h1.img`, `${dir.path}/d1.img`, stop.signal),
    { name: "AbortError" },
  );
  // The data file is created at its full size (sparse) and filled by the copy.
  const partial = (await Deno.stat(`${dir.path}/d1.img`)).blocks! * 512;
  assert.ok(partial < header.dataSize, `stopped after ${partial} of ${header.dataSize} bytes`);

  await detachForDecrypt(
    img,
    header,
    `${dir.path}/h2.img`,
    `${dir.path}/d2.img`,
    new AbortController().signal,
  );
  assert.equal((await Deno.stat(`${dir.path}/d2.img`)).size, header.dataSize);
  assert.ok((await Deno.stat(`${dir.path}/d2.img`)).blocks! * 512 >= header.dataSize);
  assert.equal((await Deno.stat(`${dir.path}/d2.img`)).mode! & 0o777, 0o600);
});
