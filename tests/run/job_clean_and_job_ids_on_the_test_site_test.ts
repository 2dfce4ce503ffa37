/**
 * On the test site, after a real run: `job status`, `job show` and `job
 * clean` take the job's project id, find its Slurm id and its site, and
 * `job clean` leaves nothing of the job on the shared side while the local
 * results stay.
 */
import assert from "node:assert/strict";
import { E2E_SKIP, jobIdOf, makeProject, remote, runIn } from "./_fixture.ts";

Deno.test({
  name: "after a run, job status and job clean take the job id; nothing stays on the site",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
    assert.equal(r.code, 0, `run failed:\n${r.stderr}\n${r.stdout}`);
    const job = jobIdOf(r.stderr);
    const slurm = /\(Slurm (\d+)\)/.exec(r.stdout)?.[1];
    assert.ok(slurm, r.stdout);

    // No --site: the job's state names the profile it ran with.
    const status = await runIn(p, ["job", "status", job]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^${slurm} COMPLETED`));
    const show = await runIn(p, ["job", "show", slurm]);
    assert.match(show.stdout, new RegExp(`^job +${job}$`, "m"));

    const dir = `${p.site.SITE_REMOTE_DIR}/jobs/${job}`;
    assert.equal(await remote(p.site, `test -d ${dir} && echo there`), "there\n");
    const clean = await runIn(p, ["job", "clean", job]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stderr, /secret\(s\) checked gone from Vault/);
    assert.equal(await remote(p.site, `test -e ${dir} && echo there || echo gone`), "gone\n");
    await Deno.stat(`${p.dir}/results/output_fft.cfl`);
    const list = await runIn(p, ["job", "list"]);
    assert.match(list.stdout, new RegExp(`^${job} .* COMPLETED, cleaned `, "m"));
    // Cleaned jobs are not cleaned twice.
    const again = await runIn(p, ["job", "clean", "--all-finished"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /no finished job to clean/);
  },
});
