/**
 * The run.sh envelope, the manifest line and the node's receipt, mutated
 * (truncated, spliced, wrong JSON types, objects with their own toString,
 * NUL and invalid UTF-8), end in success or one user-error line: exit 3 for
 * the script and manifest, 4 (refused) for a receipt.
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile run.sh, manifests and receipts end in success or one user-error line", async () => {
  await fuzzTargets(["run-script", "manifest", "receipt"]);
});
