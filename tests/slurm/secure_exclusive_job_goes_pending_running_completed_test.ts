/**
 * A job submitted to the hidden `secure` partition with --exclusive over SSH
 * is seen PENDING (held), RUNNING and COMPLETED by squeue; its Slurm output
 * is found through jobFiles.
 */
import assert from "node:assert/strict";
import { sh } from "../../src/remote/quote.ts";
import { jobFiles, jobState, submit } from "../../src/slurm/slurm.ts";
import { waitForJob } from "../../src/slurm/watch.ts";
import { SITE_SKIP, slurmSite } from "./_slurm.ts";

Deno.test({
  name: "secure --exclusive job: PENDING, RUNNING, COMPLETED; jobFiles finds its output",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("lifecycle");
    const script = await s.script("job.sh", "echo started-on-$(hostname -s)\nsleep 3\necho done");
    // Held at submission, so PENDING is certain to be seen.
    const held = { ...s.slurm, resources: { extraArgs: ["--hold"] } };
    const id = await submit(s.shell, held, script, { cwd: s.dir, output: `${s.dir}/out-%j.log` });
    assert.match(id, /^\d+$/);

    const info = await s.shell.run(`scontrol show job -o ${sh(id)}`);
    assert.match(info.stdout, / Partition=secure /);
    assert.match(info.stdout, / OverSubscribe=NO /, "--exclusive reaches Slurm");

    const pending = await jobState(s.shell, s.slurm, id);
    assert.equal(pending?.state, "PENDING");
    assert.equal(pending?.reason, "JobHeldUser");
    assert.equal(pending?.source, "squeue");

    const seen: string[] = [];
    const release = await s.shell.run(`scontrol release ${sh(id)}`);
    assert.equal(release.code, 0, release.stderr);
    const result = await waitForJob(s.shell, s.slurm, id, {
      intervalMs: 250,
      maxIntervalMs: 500,
      timeoutMs: 180_000,
      onState: (st) => seen.push(st.state),
    });
    assert.equal(result.state, "COMPLETED");
    assert.equal(result.outcome, "completed");
    assert.equal(result.exitCode, "0:0");
    assert.ok(seen.includes("RUNNING"), `states seen: ${seen.join(" ")}`);
    assert.equal(seen.at(-1), "COMPLETED");

    const files = await jobFiles(s.shell, s.slurm, id);
    assert.equal(files.workDir, s.dir);
    assert.equal(files.stdout, `${s.dir}/out-${id}.log`);
    assert.equal(files.command, script);
    assert.match(await s.read(files.stdout), /^started-on-\S+\ndone\n$/);
  },
});
