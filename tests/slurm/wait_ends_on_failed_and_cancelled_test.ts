/**
 * The wait ends on every terminal state: a failing job with FAILED (and its
 * exit code), a cancelled one with CANCELLED; `job wait` exits with a
 * different status for each.
 */
import assert from "node:assert/strict";
import { JobEndedError, jobState, OUTCOME_EXIT_CODES, submit } from "../../src/slurm/slurm.ts";
import { waitForJob } from "../../src/slurm/watch.ts";
import { assertOneLineError, runCli } from "../_helpers/cli.ts";
import { siteEnv, siteFlags } from "../remote/_site.ts";
import { SITE_SKIP, slurmSite } from "./_slurm.ts";

/** `job wait` notes each state it sees on stderr; the rest must be one error line. */
const errorLines = (stderr: string) =>
  stderr.split("\n").filter((l) => !/^job \d+: [A-Z_]+/.test(l)).join("\n");

const fast = { intervalMs: 250, maxIntervalMs: 1000, timeoutMs: 180_000 };

Deno.test({
  name: "a failing job ends the wait FAILED with its exit code; job wait exits 8",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("failed");
    const script = await s.script("fail.sh", "echo about-to-fail\nexit 3");
    const id = await submit(s.shell, s.slurm, script, { cwd: s.dir });
    const r = await waitForJob(s.shell, s.slurm, id, fast);
    assert.deepEqual(r, { id, state: "FAILED", outcome: "failed", exitCode: "3:0" });
    assert.equal(new JobEndedError(r).exitCode, 8);

    const cli = await runCli(["job", "wait", id, ...siteFlags(await siteEnv())]);
    assert.equal(cli.code, OUTCOME_EXIT_CODES.failed, cli.stderr);
    assert.equal(cli.stdout.trim(), `${id} FAILED`);
    assertOneLineError(errorLines(cli.stderr));
    assert.match(cli.stderr, new RegExp(`job ${id} ended FAILED \\(failed, exit code 3:0\\)`));
  },
});

Deno.test({
  name: "a job cancelled with job cancel ends the wait CANCELLED; job wait exits 12",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using s = await slurmSite("cancelled");
    const script = await s.script("long.sh", "sleep 120");
    const id = await submit(s.shell, s.slurm, script, { cwd: s.dir });
    const before = await jobState(s.shell, s.slurm, id);
    assert.ok(before && ["PENDING", "RUNNING"].includes(before.state), before?.state);

    const cancelled = await runCli(["job", "cancel", id, ...siteFlags(env)]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout.trim(), `cancelled ${id}`);
    const r = await waitForJob(s.shell, s.slurm, id, fast);
    assert.equal(r.state, "CANCELLED");
    assert.equal(r.outcome, "cancelled");

    const cli = await runCli(["job", "wait", id, ...siteFlags(env)]);
    assert.equal(cli.code, 12, cli.stderr);
    assertOneLineError(errorLines(cli.stderr));
  },
});

Deno.test("each unsuccessful outcome has its own exit status", () => {
  const codes = Object.entries(OUTCOME_EXIT_CODES).filter(([o]) => o !== "completed");
  assert.equal(new Set(codes.map(([, c]) => c)).size, codes.length);
  assert.ok(codes.every(([, c]) => c !== 0 && c !== 6 && c !== 130));
});
