import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";

Deno.test("a run.sh without run.sh.sig is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  await Deno.remove(job.signature);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /signature ".*run\.sh\.sig" is missing/);
});
