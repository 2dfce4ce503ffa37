/**
 * SIF images with mutated global headers and descriptors (counts, offsets
 * and sizes set to huge, negative or overlapping values, truncation), the
 * PEM/DER crypto message with mutated DER lengths, and PEM RSA keys end in
 * success or one user-error line (exit 3, or 4 for a refusal).
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile SIF headers, crypto messages and PEM keys end in success or one user-error line", async () => {
  await fuzzTargets(["sif", "crypto-message", "pem-key"]);
});
