import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";

Deno.test("a job past its not_after time is refused", async () => {
  await using f = await fixture();
  const job = await seal(f, "job", {
    now: new Date(Date.now() - 2 * 3_600_000),
    expiresMs: 3_600_000,
  });
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /expired at \d{4}-\d\d-\d\dT/);
});
