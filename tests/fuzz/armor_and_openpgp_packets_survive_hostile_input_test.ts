/**
 * Armored keys, the job message and detached signatures with mutated armor
 * (bad CRC, bad base64, giant lines, headers) and mutated packets inside it
 * (huge and partial lengths, truncation, bit flips) end in success or one
 * user-error line: exit 3 for unreadable input, 4 for a refused message or
 * signature. openpgp.js's own errors are turned into those at the call site.
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile armor and OpenPGP packets end in success or one user-error line", async () => {
  await fuzzTargets(["pgp-public-key", "pgp-private-key", "pgp-message", "pgp-signature"]);
});
