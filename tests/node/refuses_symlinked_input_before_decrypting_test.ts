/**
 * Someone who controls the shared file system puts a symbolic link where an
 * input was: to a system secret (root would read and hash it for the job's
 * owner), or to another job's container holding exactly the sealed bytes
 * (the hash would match). The node opens no link: refused, exit 4, one line,
 * before a byte of it is read and before the job's script (and so any key
 * fetch or data decryption) runs.
 */
import { assertRefused, fixture, replaceInput, runNode, seal, sealWithInput } from "./_fixture.ts";

Deno.test("an input that is a symlink to a system secret is refused before decrypting", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f);
  await replaceInput(job.input, (p) => Deno.symlink("/etc/shadow", p));
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data\.img" of job .* is refused: a symbolic link/);
});

Deno.test("an input that is a symlink to another job's container with the sealed bytes is refused", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f, "job", "same bytes");
  // The other job's directory holds a file with exactly the sealed content.
  await Deno.mkdir(`${f.dir}/other-job`);
  await Deno.writeTextFile(`${f.dir}/other-job/input.img`, "same bytes");
  await replaceInput(job.input, (p) => Deno.symlink(`${f.dir}/other-job/input.img`, p));
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "data\.img" of job .* is refused: a symbolic link/);
});

Deno.test("an input below a directory swapped for a symlink is refused", async () => {
  await using f = await fixture();
  const jobDir = `${f.dir}/job`;
  await Deno.mkdir(`${jobDir}/sub`, { recursive: true });
  await Deno.writeTextFile(`${jobDir}/sub/data.img`, "bytes");
  const job = await seal(f, "job", { inputs: [`${jobDir}/sub/data.img`] });
  // The same bytes elsewhere, and the directory on the way replaced by a link to them.
  await Deno.mkdir(`${f.dir}/elsewhere`);
  await Deno.writeTextFile(`${f.dir}/elsewhere/data.img`, "bytes");
  await Deno.remove(`${jobDir}/sub`, { recursive: true });
  await Deno.symlink(`${f.dir}/elsewhere`, `${jobDir}/sub`);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /input "sub\/data\.img" .* "sub" is not a directory of the job/);
});
