import assert from "node:assert/strict";
import { assertRefused, fixture, runNode, runs, seal } from "./_fixture.ts";

Deno.test("a job runs once; the same sealed job again, even copied elsewhere, is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const first = await runNode(f, { script: job.runScript });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await runs(f), 1);
  await Deno.remove(f.marker);

  const again = await runNode(f, { script: job.runScript });
  await assertRefused(f, again, /already run on this node \(nonce seen before\): replay/);

  await Deno.mkdir(`${f.dir}/copy`);
  await Deno.chmod(`${f.dir}/copy`, 0o755); // exact, whatever a parallel test's umask
  await Deno.copyFile(job.runScript, `${f.dir}/copy/run.sh`);
  await Deno.copyFile(job.signature, `${f.dir}/copy/run.sh.sig`);
  const copied = await runNode(f, { script: `${f.dir}/copy/run.sh` });
  await assertRefused(f, copied, /replay/);
});
