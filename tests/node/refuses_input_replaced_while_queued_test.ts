/**
 * While the job waits in the queue, someone renames another file over an
 * input: a valid container of another job of the same user (same owner,
 * mode 0600, a real file). Refused by the SHA-256 in the signed manifest,
 * exit 4, one line, before the job's script runs.
 */
import { assertRefused, fixture, runNode, sealWithInput } from "./_fixture.ts";

Deno.test("an input replaced by another job's file while queued is refused", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f, "job", "this job's container");
  const other = await sealWithInput(f, "other-job", "another job's container");
  await Deno.chmod(other.input, 0o600);
  await Deno.rename(other.input, job.input);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(
    f,
    res,
    /input "data\.img" of job .* differs from what was sealed \(SHA-256\)/,
  );
});
