/**
 * Job specs and site profiles from hostile YAML (alias bombs, deep nesting,
 * duplicate and huge keys, huge scalars, mutated real files) load or fail
 * with one input-error line (exit 3), fast and without a memory blow-up.
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile job specs and site profiles end in success or one input-error line", async () => {
  await fuzzTargets(["job-spec", "site-profile"]);
});
