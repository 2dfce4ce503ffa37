/** Malformed, truncated or oversized armor is one input-error line, never a stack or a huge parse. */
import assert from "node:assert/strict";
import { parsePrivateKey, parsePublicKey } from "../../src/pgp/keys.ts";
import { generateKeyPair } from "../../src/pgp/keys.ts";
import { ARMOR_LIMITS } from "../../src/pgp/armor.ts";
import { SealbatchError } from "../../src/util/errors.ts";

const inputErrorLine = (pattern: RegExp) => (e: unknown) =>
  e instanceof SealbatchError && e.kind === "input" && !e.message.includes("\n") &&
  pattern.test(e.message);

Deno.test("armor that is not a key, truncated, garbled or too large is an input error", async () => {
  const key = await generateKeyPair({ name: "a", email: "a@example.org" });
  await assert.rejects(() => parsePublicKey("hello", "k"), inputErrorLine(/not an ASCII-armored/));
  await assert.rejects(
    () => parsePublicKey(key.publicArmored.slice(0, 200), "k"),
    inputErrorLine(/armor is truncated/),
  );
  const lines = key.publicArmored.split("\n");
  lines[3] = "%%%%%%%%";
  await assert.rejects(
    () => parsePublicKey(lines.join("\n"), "k"),
    inputErrorLine(/cannot read k: armor holds a line that is not base64/),
  );
  // One base64 character changed for another: only the checksum tells (GnuPG: "CRC error").
  const damaged = key.publicArmored.split("\n");
  const at = damaged.findIndex((l, i) => i > 1 && /^[A-Za-z0-9+/]{20,}$/.test(l));
  damaged[at] = damaged[at]!.replace(/^./, (c) => (c === "A" ? "B" : "A"));
  await assert.rejects(
    () => parsePublicKey(damaged.join("\n"), "k"),
    inputErrorLine(/the armor checksum does not match/),
  );
  const huge = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n" + "A".repeat(ARMOR_LIMITS.key) +
    "\n-----END PGP PUBLIC KEY BLOCK-----\n";
  await assert.rejects(() => parsePublicKey(huge, "k"), inputErrorLine(/larger than/));
  await assert.rejects(
    () => parsePrivateKey(key.publicArmored, "k"),
    inputErrorLine(/not an ASCII-armored OpenPGP private key block/),
  );
});
