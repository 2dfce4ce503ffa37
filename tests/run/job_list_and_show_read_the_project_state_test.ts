import assert from "node:assert/strict";
import type { Receipt } from "../../src/job/receipt.ts";
import { jobDir, projectStateDir } from "../../src/run/project.ts";
import { RunState } from "../../src/run/state.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

/** A job's state as `sealbatch run` leaves it after `steps`. */
async function fakeJob(
  project: string,
  job: string,
  createdAt: string,
  steps: Record<string, unknown>,
): Promise<void> {
  const state = await RunState.open(jobDir(projectStateDir(project), job), job);
  const plan = { spec: `${project}/job.yaml`, name: "bart-fft", input: `${project}/input` };
  await state.step("plan", () => Promise.resolve({ ...plan, outputs: "results", createdAt }));
  for (const [name, value] of Object.entries(steps)) {
    await state.step(name, () => Promise.resolve(value));
  }
}

Deno.test("job list and job show report each job's Slurm id, state and verified receipt", async () => {
  await using dir = await tempDir();
  const p = dir.path;
  const receipt: Receipt = {
    v: 1,
    kind: "sealbatch-receipt",
    job: "bart-fft-0000aaaa",
    nonce: "6e6f6e63656e6f6e63656e6f6e63650a",
    user: "alice",
    slurm_job: "41",
    signer: "F".repeat(40),
    results: { path: "output.results.img", sha256: "ab".repeat(32), bytes: 1234 },
    started_at: "2026-12-01T10:00:05Z",
    ended_at: "2026-12-01T10:00:09Z",
    exit_code: 0,
  };
  await fakeJob(p, "bart-fft-0000aaaa", "2026-12-01T10:00:00.000Z", {
    "seal-input": {},
    "submit": "41",
    "wait": { state: "COMPLETED" },
    "verify-receipt": receipt,
    "revoke": {},
  });
  await fakeJob(p, "bart-fft-1111bbbb", "2026-12-01T11:00:00.000Z", {
    "seal-input": {},
    "submit": "42",
    "wait": { state: "COMPLETED" },
    "verify-receipt": { ...receipt, job: "bart-fft-1111bbbb", slurm_job: "42", exit_code: 3 },
  });
  await fakeJob(p, "bart-fft-2222cccc", "2026-12-01T12:00:00.000Z", { "seal-input": {} });

  const list = await runCli(["job", "list", "--project", p]);
  assert.equal(list.code, 0, list.stderr);
  const rows = list.stdout.trim().split("\n");
  assert.match(rows[0]!, /^job +created +slurm +state +input +spec$/);
  assert.match(
    rows[1]!,
    /^bart-fft-0000aaaa +2026-12-01 10:00:00 +41 +COMPLETED +input +job\.yaml$/,
  );
  assert.match(rows[2]!, /^bart-fft-1111bbbb +.* 42 +FAILED \(exit 3\) /);
  assert.match(rows[3]!, /^bart-fft-2222cccc +.* - +stopped after seal-input /);

  const show = await runCli(["job", "show", "bart-fft-0000aaaa"], { cwd: p });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^state +COMPLETED$/m);
  assert.match(show.stdout, /^slurm +41$/m);
  assert.match(show.stdout, /^steps +plan, seal-input, submit, wait, verify-receipt, revoke$/m);
  assert.match(show.stdout, /^receipt +verified: signed by the node key$/m);
  assert.match(show.stdout, /nonce 6e6f6e63656e6f6e63656e6f6e63650a, user alice, exit 0/);
  assert.match(show.stdout, new RegExp(`results output\\.results\\.img sha256 ${"ab".repeat(32)}`));

  const json = await runCli(["--json", "job", "show", "bart-fft-2222cccc", "--project", p]);
  assert.equal(json.code, 0, json.stderr);
  const entry = JSON.parse(json.stdout);
  assert.equal(entry.stage, "seal-input");
  assert.equal(entry.receipt, undefined);

  const missing = await runCli(["job", "show", "bart-fft-9999dddd", "--project", p]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /no job "bart-fft-9999dddd"/);
  assert.match(missing.stderr, /hint: see the project's jobs with 'sealbatch job list'/);
});
