import { assertRefused, fixture, heredocOf, runNode, seal } from "./_fixture.ts";

Deno.test("a stdin message swapped for another validly sealed one is refused", async () => {
  await using f = await fixture();
  const job = await seal(f, "job");
  const other = await seal(f, "other");
  const swapped = heredocOf(await Deno.readTextFile(other.runScript));
  const res = await runNode(f, { script: job.runScript, stdin: swapped });
  await assertRefused(f, res, /message on stdin is not the one in the signed batch script/);
});
