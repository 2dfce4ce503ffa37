import assert from "node:assert/strict";
import { SITE_SKIP } from "../remote/_site.ts";
import { jobIdOf, makeProject, remote, runIn } from "./_fixture.ts";

Deno.test({
  name: "--dry-run seals locally, checks the site and shows the plan, but changes nothing remote",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml", "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    const job = jobIdOf(r.stderr);
    assert.match(r.stdout, /nothing was escrowed in Vault and nothing changed on the site/);
    assert.match(r.stderr, /escrow +skipped: dry run: nothing escrowed/);
    assert.match(r.stdout, new RegExp(`ok +login: logged in as ${p.site.SITE_USER}`));
    assert.match(r.stdout, /ok +partition: secure exists/);
    for (const f of ["input.img", "run.sh.sig", "run.sh"]) {
      assert.match(
        r.stdout,
        new RegExp(`^  ${f.replace(".", "\\.")}  \\d+ bytes  sha256 [0-9a-f]{64}$`, "m"),
      );
    }
    assert.match(
      r.stdout,
      new RegExp(
        `would submit: sbatch --parsable -p secure --exclusive -J ${job} .*--time 00:10:00 .*/jobs/${job}/run\\.sh`,
      ),
    );

    // Nothing of this job on the site (other tests share the remote directory), nothing in Vault.
    const traces = await remote(
      p.site,
      `find ${p.site.SITE_REMOTE_DIR} -name '*${job}*' 2>/dev/null; true`,
    );
    assert.equal(traces, "");
    const vault = await p.client();
    assert.deepEqual(await vault.kvList("secret", "sealbatch/"), []);
    // The local steps are kept for the real run; escrow and everything after are not.
    const state = JSON.parse(await Deno.readTextFile(`${p.dir}/.sealbatch/jobs/${job}/state.json`));
    assert.deepEqual(
      state.steps.map((s: { name: string }) => s.name),
      ["plan", "seal-input", "image"],
    );
    await assert.rejects(Deno.stat(`${p.dir}/.sealbatch/jobs/${job}/run.sh`));

    // A second dry run resumes the same job and skips the finished local steps.
    const again = await runIn(p, ["run", "job.yaml", "--site", "site.yaml", "--dry-run"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(jobIdOf(again.stderr), job);
    assert.match(again.stderr, /seal-input +skipped: done in an earlier run/);
  },
});
