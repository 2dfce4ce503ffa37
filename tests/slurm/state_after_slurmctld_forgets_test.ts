/**
 * What squeue and sacct really print on the test site: squeue -t all keeps a
 * finished job until MinJobAge; after that only sacct could tell, and the
 * test site (like many small clusters) has accounting storage disabled. That
 * fallback must fail at once with a clear line, not poll for ever.
 */
import assert from "node:assert/strict";
import { SealbatchError } from "../../src/util/errors.ts";
import { jobState } from "../../src/slurm/slurm.ts";
import { waitForJob } from "../../src/slurm/watch.ts";
import { SITE_SKIP, slurmSite } from "./_slurm.ts";

Deno.test({
  name: "a job slurmctld no longer knows: sacct answers, or its absence is one clear error",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("purged");
    // Far above any id the test site hands out: squeue says "Invalid job id".
    const id = "987654321";
    const squeue = await s.shell.run(`squeue -a -h -t all -j ${id} -o '%T'`);
    assert.notEqual(squeue.code, 0);
    assert.match(squeue.stderr, /Invalid job id specified/);

    const sacct = await s.shell.run(`sacct -X -n -P -j ${id} -o State,ExitCode`);
    if (/accounting storage is disabled/i.test(sacct.stdout + sacct.stderr)) {
      const commands: string[] = [];
      const counting = {
        where: s.shell.where,
        run: (c: string) => (commands.push(c.split(" ")[0]!.replaceAll("'", "")), s.shell.run(c)),
      };
      const err = await waitForJob(counting, s.slurm, id, { intervalMs: 100 }).catch((e) => e);
      assert.ok(err instanceof SealbatchError);
      assert.equal(err.exitCode, 6);
      assert.match(
        err.message,
        /^cannot tell how job 987654321 ended: .*accounting storage is disabled/,
      );
      assert.deepEqual(commands, ["squeue", "sacct"], "fails on the first poll");
    } else {
      // Accounting is on: an unknown id is simply not there.
      assert.equal(sacct.code, 0, sacct.stderr);
      assert.equal(await jobState(s.shell, s.slurm, id), undefined);
    }
  },
});
