import { assertRefused, fixture, heredocOf, runNode, seal } from "./_fixture.ts";

Deno.test("a run.sh with one byte changed is refused before decryption", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const bytes = await Deno.readFile(job.runScript);
  const original = heredocOf(new TextDecoder().decode(bytes));
  bytes[5] = bytes[5]! ^ 0x01; // inside "#!/bin/bash"
  await Deno.writeFile(job.runScript, bytes);
  const res = await runNode(f, { script: job.runScript, stdin: original });
  await assertRefused(f, res, /bad signature/);
});

Deno.test("a run.sh with a command added after EOF is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const text = await Deno.readTextFile(job.runScript);
  await Deno.writeTextFile(job.runScript, `${text}\ntouch '${f.marker}'`);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /bad signature/);
});
