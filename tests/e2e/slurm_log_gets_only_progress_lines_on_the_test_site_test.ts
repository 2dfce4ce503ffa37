/**
 * The Slurm log finding on the real test site: a `sealbatch run` job whose
 * command dies by a signal (SIGABRT, as in CI), and one that is scancel'ed by
 * Slurm itself. The log on the shared side holds the node's fixed progress
 * lines, Slurm's own cancellation line, and nothing of the command line.
 * The same for a job that reaches its time limit (it lowers its own to one
 * minute: the slowest test here). (The OOM killer's SIGKILL and a node side crash are played
 * with real signals on the local executor: tests/node/slurm_log_gets_only_
 * progress_lines_however_the_job_ends_test.ts.)
 */
import assert from "node:assert/strict";
import { E2E_SKIP, makeProject, remote, runIn } from "../run/_fixture.ts";
import { foreignLines } from "../node/_sealed_run.ts";

/** Slurm's own line when it cancels a job; written by slurmstepd, not by anything the job runs. */
const SLURM_CANCELLED = /^slurmstepd\S*: error: \*\*\* JOB \d+ ON \S+ CANCELLED AT \S+ .*\*\*\*$/;

async function logOf(p: Awaited<ReturnType<typeof makeProject>>): Promise<string> {
  const [job] = [...Deno.readDirSync(`${p.dir}/.sealbatch/jobs`)].map((e) => e.name);
  return await remote(p.site, `cat ${p.site.SITE_REMOTE_DIR}/jobs/${job}/slurm-*.out`);
}

for (
  const [what, command, probe] of [
    [
      "a command killed by SIGABRT",
      "ls {input}; : leak-probe-abort-e2e; kill -ABRT $$",
      "leak-probe-abort-e2e",
    ],
    [
      "a job scancel'ed by Slurm",
      ": leak-probe-scancel-e2e; scancel $SLURM_JOB_ID; sleep 60",
      "leak-probe-scancel-e2e",
    ],
    // The job lowers its own time limit to the minimum (1 minute): Slurm ends it as at any time limit.
    [
      "a job at its time limit",
      ": leak-probe-timeout-e2e; scontrol update JobId=$SLURM_JOB_ID TimeLimit=1; sleep 300",
      "leak-probe-timeout-e2e",
    ],
  ] as const
) {
  Deno.test({
    name: `on the test site, ${what} leaves only progress lines in the Slurm log`,
    ignore: E2E_SKIP !== false,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using p = await makeProject({ command });
      const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
      assert.notEqual(r.code, 0, r.stderr);
      const log = await logOf(p);
      assert.match(log, /^sealbatch: job started$/m, log);
      const foreign = foreignLines(log).filter((l) =>
        !SLURM_CANCELLED.test(l) &&
        l !== "sealbatch: error: interrupted by SIGTERM; temporary files removed"
      );
      assert.deepEqual(foreign, [], `foreign lines in the Slurm log:\n${log}`);
      assert.ok(!log.includes(probe), log);
      assert.doesNotMatch(log, /shepp_logan/);
    },
  });
}
