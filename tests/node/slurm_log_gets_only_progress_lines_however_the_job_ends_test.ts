/**
 * Finding: bash reports a command killed by a signal on the script's stderr,
 * quoting the whole command line; that stderr was the Slurm log, on the
 * shared file system. Now the node side owns the script's stdout and stderr
 * and passes on fixed progress lines only, and the script moves its stderr
 * into the sealed results once they are open. Each way a job can end is
 * played with real signals on the real process tree of the node side (the
 * local executor runs it as a batch step does, in its own process group):
 * the log holds nothing but the fixed lines, and no byte of the command line
 * or of the input.
 */
import assert from "node:assert/strict";
import { foreignLines, INPUT_MARKER, MEMORY_AVAILABLE, sealedRun } from "./_sealed_run.ts";

const ignore = !MEMORY_AVAILABLE;

/** The process group of the node side (its leader), seen from inside the command. */
const GROUP = "pg=$(ps -o pgid= -p $$ | tr -d ' ')";

function assertClean(log: string, probe: string): void {
  assert.deepEqual(foreignLines(log), [], `foreign lines in the Slurm log:\n${log}`);
  assert.ok(!log.includes(probe), `the command line reached the Slurm log:\n${log}`);
  assert.ok(!log.includes(INPUT_MARKER), `an input name reached the Slurm log:\n${log}`);
  assert.match(log, /^sealbatch: job started$/m, `the job never started:\n${log}`);
}

Deno.test({
  name: "a command killed by a signal (SIGABRT): bash's report goes into the sealed job.stderr, " +
    "not the Slurm log",
  ignore,
  async fn() {
    const probe = "leak-probe-abort-1";
    const run = await sealedRun(`ls {input}; : ${probe}; kill -ABRT $$`);
    assertClean(run.log, probe);
    assert.match(run.log, /^sealbatch: job ended with status 134$/m);
    // Where bash's report went instead: inside the results, with the command line it quotes.
    assert.match(run.results["job.stderr"] ?? "", new RegExp(`Aborted.*${probe}`));
    assert.match(run.results["job.stdout"] ?? "", new RegExp(INPUT_MARKER));
  },
});

Deno.test({
  name: "a command killed as the OOM killer kills (SIGKILL): nothing but progress lines in the log",
  ignore,
  async fn() {
    const probe = "leak-probe-oom-2";
    const run = await sealedRun(`: ${probe}; kill -KILL $$`);
    assertClean(run.log, probe);
    assert.match(run.log, /^sealbatch: job ended with status 137$/m);
    assert.match(run.results["job.stderr"] ?? "", new RegExp(`Killed.*${probe}`));
  },
});

Deno.test({
  name: "scancel (SIGTERM to every process of the job): nothing but progress lines in the log",
  ignore,
  async fn() {
    const probe = "leak-probe-scancel-3";
    const run = await sealedRun(`: ${probe}; ${GROUP}; kill -TERM -- -$pg; sleep 20`);
    assertClean(run.log.replace(/^sealbatch: error: interrupted by SIGTERM.*\n/m, ""), probe);
    assert.ok(run.outcome instanceof Error, "a cancelled job has no results");
  },
});

Deno.test({
  name: "time limit (SIGTERM, then SIGKILL after KillWait): nothing but progress lines in the log",
  ignore,
  async fn() {
    const probe = "leak-probe-timeout-4";
    // Slurm's order at the time limit: TERM to all, KILL to what is left after KillWait.
    const killer = `setsid bash -c "sleep 2; kill -KILL -- -$pg" </dev/null >/dev/null 2>&1 &`;
    const run = await sealedRun(
      `: ${probe}; ${GROUP}; ${killer} trap '' TERM; kill -TERM -- -$pg; sleep 20`,
    );
    assertClean(run.log.replace(/^sealbatch: error: interrupted by SIGTERM.*\n/m, ""), probe);
    assert.ok(run.outcome instanceof Error, "a killed job has no results");
  },
});

Deno.test({
  name: "the node side dies (SIGKILL) under a running job: its script cannot write to the log",
  ignore,
  async fn() {
    const probe = "leak-probe-crash-5";
    // The node side leads its process group; kill it alone, the script runs on and talks.
    const run = await sealedRun(
      `${GROUP}; kill -KILL $pg; sleep 1; echo ${probe} >&2; echo ${probe} >&3; kill -ABRT $$`,
    );
    assertClean(run.log, probe);
    assert.ok(run.outcome instanceof Error, "the job has no receipt");
  },
});
