import assert from "node:assert/strict";
import { E2E_SKIP, makeProject, remote, runIn } from "./_fixture.ts";

Deno.test({
  name: "a job whose command fails is reported FAILED with its decrypted stderr, exit code 8",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject({
      command: "ls {input}; echo 'reconstruction-diverged-7431' >&2; exit 3",
    });
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /FAILED: your command exited with status 3/);
    // The stderr travelled inside the results container and is shown here...
    assert.match(r.stderr, /--- stderr of job [^\n]* ---\nreconstruction-diverged-7431\n--- end/);
    assert.equal(
      (await Deno.readTextFile(`${p.dir}/results/job.stderr`)).trim(),
      "reconstruction-diverged-7431",
    );
    assert.match(await Deno.readTextFile(`${p.dir}/results/job.stdout`), /shepp_logan\.cfl/);
    // ...and never in the Slurm log on the shared side.
    const log = await remote(p.site, `cat ${p.site.SITE_REMOTE_DIR}/jobs/*/slurm-*.out`);
    assert.doesNotMatch(log, /reconstruction-diverged|shepp_logan/);
    // The keys are revoked all the same.
    assert.match(r.stdout, /^ {2}revoke /m);
  },
});
