/**
 * The key check token is written into both LUKS2 header copies without
 * cryptsetup; cryptsetup must read the result as its own: the token exports
 * as written, the header dumps, and the key still opens the key slot.
 */
import assert from "node:assert/strict";
import { readLuksHeader } from "../../src/luks/header.ts";
import { KEYCHECK_TOKEN, keyMatchesCheck } from "../../src/luks/keycheck.ts";
import { exec } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";
import { sealSample } from "./_fixture.ts";

Deno.test("cryptsetup reads the key check token sealbatch wrote, from either header copy", async () => {
  await using dir = await tempDir();
  const { img, key, sealed } = await sealSample(dir.path);
  assert.equal(sealed.code, 0, sealed.stderr);
  const exported = await exec("cryptsetup", ["token", "export", "--token-id", "0", img]);
  const token = JSON.parse(exported.text);
  assert.equal(token.type, KEYCHECK_TOKEN);
  assert.match(token["hmac-sha256"], /^[0-9a-f]{64}$/);
  const dump = await exec("cryptsetup", ["luksDump", img]);
  assert.match(dump.text, new RegExp(`0: ${KEYCHECK_TOKEN}`));
  await exec("cryptsetup", ["open", "--test-passphrase", "--key-file", key, img]);

  // The secondary copy alone (primary wiped) carries the same token.
  const header = await readLuksHeader(img);
  const file = await Deno.open(img, { write: true });
  await file.write(new Uint8Array(4096));
  file.close();
  const fromSecondary = await readLuksHeader(img);
  assert.equal(fromSecondary.copy, "secondary");
  assert.equal(fromSecondary.seqid, header.seqid);
  assert.equal(keyMatchesCheck(fromSecondary, await Deno.readFile(key)), true);
  const again = await exec("cryptsetup", ["token", "export", "--token-id", "0", img]);
  assert.deepEqual(JSON.parse(again.text), token);
});
