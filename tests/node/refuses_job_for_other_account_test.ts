import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";

Deno.test("a job sealed for another account is refused for the caller's account", async () => {
  await using f = await fixture();
  const job = await seal(f, "job", { user: "someone-else" });
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /sealed for account "someone-else", not for/);
});

Deno.test("a non-root caller cannot run another account's job", {
  ignore: Deno.uid() === 0,
}, async () => {
  await using f = await fixture();
  const job = await seal(f);
  const res = await runNode(f, { script: job.runScript, args: ["--user", "root"] });
  await assertRefused(f, res, /needs root/);
});
