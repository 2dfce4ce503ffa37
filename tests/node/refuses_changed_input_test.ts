import assert from "node:assert/strict";
import { assertRefused, fixture, runNode, runs, seal } from "./_fixture.ts";

/** Write with exact modes: a parallel test may run with umask 0, and the node refuses what others can write. */
async function write(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o600);
}

Deno.test("an input whose SHA-256 differs from the sealed one is refused; the original runs", async () => {
  await using f = await fixture();
  await Deno.mkdir(`${f.dir}/job`);
  await write(`${f.dir}/job/data.img`, "original data");
  const job = await seal(f, "job", { inputs: [`${f.dir}/job/data.img`] });
  assert.deepEqual(Object.keys(job.manifest.inputs), ["data.img"]);

  await write(`${f.dir}/job/data.img`, "swapped data!");
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data.img" of job .* differs from what was sealed/);

  await write(`${f.dir}/job/data.img`, "original data");
  const ok = await runNode(f, { script: job.runScript });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await runs(f), 1);
});

Deno.test("a missing input is refused", async () => {
  await using f = await fixture();
  await Deno.mkdir(`${f.dir}/job`);
  await write(`${f.dir}/job/data.img`, "data");
  const job = await seal(f, "job", { inputs: [`${f.dir}/job/data.img`] });
  await Deno.remove(`${f.dir}/job/data.img`);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data.img" .* is missing/);
});

Deno.test("an input that is a link (here: outside the job directory) is refused", async () => {
  await using f = await fixture();
  await Deno.mkdir(`${f.dir}/job`);
  await Deno.writeTextFile(`${f.dir}/secret`, "not the user's");
  await Deno.symlink(`${f.dir}/secret`, `${f.dir}/job/data.img`);
  const job = await seal(f, "job", { inputs: [`${f.dir}/job/data.img`] });
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data.img" .* is refused: a symbolic link/);
});
