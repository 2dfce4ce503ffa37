/**
 * A job directory or file that another account can write, or that another
 * account owns, is not the job owner's alone: someone else could have put
 * it there or could change it. Uploads make directories 0700 and files 0600;
 * anything else is refused, exit 4, one line, before the job's script runs.
 */
import { exec } from "../../src/util/exec.ts";
import { assertRefused, fixture, runNode, sealWithInput } from "./_fixture.ts";

Deno.test("a job directory others can write is refused before anything is read from it", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f);
  await Deno.chmod(job.jobDir, 0o777);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(
    f,
    res,
    /job directory ".*\/job" is refused: others can write it \(mode 777\)/,
  );
});

Deno.test("an input or a signature the group can write is refused", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f);
  await Deno.chmod(job.input, 0o664);
  let res = await runNode(f, { script: job.runScript });
  await assertRefused(
    f,
    res,
    /input "data\.img" of job .* is refused: others can write it \(mode 664\)/,
  );

  await Deno.chmod(job.input, 0o600);
  await Deno.chmod(job.signature, 0o620);
  res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /signature ".*run\.sh\.sig" is refused: others can write it/);
});

Deno.test({
  name: "an input that belongs to another account is refused",
  ignore: Deno.uid() !== 0, // chown needs root
  async fn() {
    await using f = await fixture();
    const job = await sealWithInput(f);
    const nobody = Number((await exec("id", ["-u", "nobody"])).text.trim());
    await Deno.chown(job.input, nobody, null);
    const res = await runNode(f, { script: job.runScript });
    await assertRefused(f, res, new RegExp(`input "data\\.img" .* belongs to uid ${nobody}`));
  },
});
