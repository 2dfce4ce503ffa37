import assert from "node:assert/strict";
import { type StepName, STEPS } from "../../src/run/steps.ts";
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
    const kills: StepName[] = [];
    // "plan" .. "open-results": after each, kill -9; the next run resumes. A step that an
    // earlier run finished too (the kill lands a moment after the line) is skipped; the run
    // is then killed after the next step it does finish.
    for (const target of STEPS.filter((s) => s !== "revoke")) {
      let killedAt: StepName | undefined;
      const r = await runIn(p, args, (line, child) => {
        const m = /^(\S+) +done/.exec(line);
        const step = m?.[1] as StepName | undefined;
        if (!killedAt && step && STEPS.indexOf(step) >= STEPS.indexOf(target)) {
          killedAt = step;
          child.kill("SIGKILL");
        }
      });
      // The last step's line can come so late that the run ends before the kill lands: then,
      // too, everything from the target on was done already.
      if (killedAt === "revoke" && r.code === 0) killedAt = undefined;
      if (killedAt === undefined) {
        // Everything from the target on was done already.
        assert.match(r.stderr, new RegExp(`^${target} +skipped`, "m"), r.stderr);
        continue;
      }
      kills.push(killedAt);
      assert.equal(r.code, 137, r.stderr);
      job ??= jobIdOf(r.stderr);
      assert.equal(jobIdOf(r.stderr), job, "every run resumes the same job");
      // Each step that an earlier run finished is skipped, never redone.
      for (const s of STEPS.slice(0, STEPS.indexOf(target))) {
        if (kills.slice(0, -1).includes(s)) {
          assert.match(r.stderr, new RegExp(`^${s} +skipped`, "m"));
        }
      }
      const keys = `${p.dir}/.sealbatch/jobs/${job}/keys.json`;
      escrowedAt ??= await Deno.readTextFile(keys).then(
        (t) => JSON.parse(t).created_at,
        () => undefined,
      );
      if (inputInode === undefined && STEPS.indexOf(killedAt) >= STEPS.indexOf("upload")) {
        inputInode = await remote(
          p.site,
          `stat -c '%i %Y' ${p.site.SITE_REMOTE_DIR}/jobs/${job}/input.img`,
        );
      }
    }
    // Killed before, at and after the remote steps.
    assert.ok(kills.some((s) => STEPS.indexOf(s) < STEPS.indexOf("upload")), kills.join(","));
    assert.ok(kills.includes("upload") || kills.includes("submit"), kills.join(","));
    assert.ok(kills.some((s) => STEPS.indexOf(s) > STEPS.indexOf("submit")), kills.join(","));
    assert.ok(escrowedAt !== undefined && inputInode !== undefined);

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
