import assert from "node:assert/strict";
import { STEPS } from "../../src/run/run.ts";
import { bartReference, E2E_SKIP, jobIdOf, makeProject, remote, runIn } from "./_fixture.ts";

Deno.test({
  name: "killed (SIGKILL) after each step in turn, the run resumes and completes with one " +
    "escrow, one upload per file and one submission",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const args = ["run", "job.yaml", "--site", "site.yaml"];
    let job: string | undefined;
    let escrowedAt: string | undefined;
    let inputInode: string | undefined;
    const kills: string[] = [];
    // "plan" .. "open-results": after each, kill -9; the next run resumes.
    for (const target of STEPS.filter((s) => s !== "revoke")) {
      let killed = false;
      const r = await runIn(p, args, (line, child) => {
        if (!killed && new RegExp(`^${target} +done`).test(line)) {
          killed = true;
          child.kill("SIGKILL");
        }
      });
      if (!killed) {
        // The step was done in an earlier run already (skipped): nothing to kill here.
        assert.match(
          r.stderr,
          new RegExp(`^${target} +skipped`, "m"),
          `${target}: ${r.stderr}${r.stdout} ${
            [...Deno.readDirSync(p.dir + "/results")].map((e) => e.name)
          }`,
        );
        continue;
      }
      kills.push(target);
      assert.equal(r.code, 137, r.stderr);
      job ??= jobIdOf(r.stderr);
      assert.equal(jobIdOf(r.stderr), job, "every run resumes the same job");
      // Each step that finished before is skipped, never redone.
      const done = STEPS.slice(0, STEPS.indexOf(target));
      for (const s of done) {
        if (kills.includes(s)) assert.match(r.stderr, new RegExp(`^${s} +skipped`, "m"));
      }
      if (target === "escrow") {
        escrowedAt = JSON.parse(
          await Deno.readTextFile(`${p.dir}/.sealbatch/jobs/${job}/keys.json`),
        ).created_at;
      }
      if (target === "upload") {
        inputInode = await remote(
          p.site,
          `stat -c '%i %Y' ${p.site.SITE_REMOTE_DIR}/jobs/${job}/input.img`,
        );
      }
    }
    assert.ok(kills.includes("escrow") && kills.includes("upload") && kills.includes("submit"));

    const last = await runIn(p, args);
    assert.equal(last.code, 0, last.stderr);
    assert.equal(jobIdOf(last.stderr), job);
    const ref = await bartReference(p.dir);
    assert.deepEqual(await Deno.readFile(`${p.dir}/results/output_fft.cfl`), ref.cfl);

    // One escrow: the key record was never replaced.
    const record = JSON.parse(await Deno.readTextFile(`${p.dir}/.sealbatch/jobs/${job}/keys.json`));
    assert.equal(record.created_at, escrowedAt);
    assert.ok(record.revoked_at);
    // One upload: the remote input.img is the file written by the first upload.
    assert.equal(
      await remote(p.site, `stat -c '%i %Y' ${p.site.SITE_REMOTE_DIR}/jobs/${job}/input.img`),
      inputInode,
    );
    // One submission: one Slurm log in the job directory.
    const logs = await remote(
      p.site,
      `ls ${p.site.SITE_REMOTE_DIR}/jobs/${job}/ | grep -c '^slurm-'`,
    );
    assert.equal(logs.trim(), "1");
  },
});
