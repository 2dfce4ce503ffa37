/**
 * `run --dry-run` is the preflight gate: a failed site check makes it fail
 * (exit 6, as `site check`), and an input that will not fit the node's
 * work_dir as the profile states it is warned about.
 */
import assert from "node:assert/strict";
import { jobFailure, type RunSummary } from "../../src/run/run.ts";
import type { CheckLine } from "../../src/remote/check.ts";
import { SITE_SKIP } from "../remote/_site.ts";
import { makeProject, runIn } from "./_fixture.ts";

const dry = (checks: CheckLine[]): RunSummary => ({
  job: "j-00000001",
  stateDir: "/x",
  dryRun: true,
  steps: [],
  uploads: [],
  checks,
});

Deno.test("a dry run whose site checks pass succeeds; one failed check fails it with exit 6", () => {
  const login: CheckLine = { check: "login", ok: true, detail: "logged in as u" };
  assert.equal(jobFailure(dry([login])), undefined);
  const err = jobFailure(dry([login, {
    check: "partition",
    ok: false,
    detail: "secure not visible: Slurm says: Partition secure not found",
  }]));
  assert.equal(err?.exitCode, 6);
  assert.match(err!.message, /^dry run of j-00000001: 1 of 2 checks failed: partition$/);
});

Deno.test({
  name: "run --dry-run exits 6 when a site check fails, and warns about a too small work_dir",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const text = await Deno.readTextFile(p.profile);
    await Deno.writeTextFile(
      p.profile,
      text.replace("partition: secure", "partition: nosuch")
        .replace("node:\n", "node:\n  work_dir_size: 1M\n"),
    );
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml", "--dry-run"]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stdout, /^ {2}FAIL partition: nosuch not visible: Slurm says: .*nosuch/m);
    assert.match(r.stdout, new RegExp(`^ {2}ok +login: logged in as ${p.site.SITE_USER}$`, "m"));
    assert.match(r.stdout, /^ {2}WARN work dir: input\.img \(\d+ MiB\) will not fit/m);
    assert.match(
      r.stderr,
      /sealbatch: error: dry run of .*: 1 of \d+ checks failed: partition/,
    );
  },
});
