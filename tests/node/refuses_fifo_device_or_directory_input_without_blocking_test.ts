/**
 * In place of an input: a FIFO (opening it for reading would block until a
 * writer comes: the job would hang until its time limit), a device node
 * (opening it acts on the node's own device), a directory. Each is refused
 * from its lstat, never opened: exit 4, one line, nothing run, no hang.
 */
import { exec } from "../../src/util/exec.ts";
import { assertRefused, fixture, replaceInput, runNode, sealWithInput } from "./_fixture.ts";

Deno.test("a FIFO in place of an input is refused without blocking", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f);
  await replaceInput(job.input, (p) => exec("mkfifo", [p]));
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data\.img" of job .* is refused: a FIFO/);
});

Deno.test({
  name: "a device node in place of an input is refused without being opened",
  ignore: Deno.uid() !== 0, // mknod needs root, as the shared file system's admin has
  async fn() {
    await using f = await fixture();
    const job = await sealWithInput(f);
    // The numbers of /dev/zero: opened, it would feed zeros forever.
    await replaceInput(job.input, (p) => exec("mknod", ["-m", "0600", p, "c", "1", "5"]));
    const res = await runNode(f, { script: job.runScript });
    await assertRefused(f, res, /input "data\.img" of job .* is refused: a device node/);
  },
});

Deno.test("a directory in place of an input is refused", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f);
  await replaceInput(job.input, (p) => Deno.mkdir(p));
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data\.img" of job .* is refused: a directory/);
});
