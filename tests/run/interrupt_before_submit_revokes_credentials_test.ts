import assert from "node:assert/strict";
import { kvPathFor } from "../../src/kms/escrow.ts";
import { SITE_SKIP } from "../remote/_site.ts";
import { jobIdOf, makeProject, runIn } from "./_fixture.ts";

Deno.test({
  name: "Ctrl-C after escrow and before submission revokes the credentials it created",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    let sent = false;
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"], (line, child) => {
      if (!sent && /^escrow +done/.test(line)) {
        sent = true;
        // Frozen first, so that a fast run cannot reach the submission before Ctrl-C lands.
        child.kill("SIGSTOP");
        child.kill("SIGINT");
        child.kill("SIGCONT");
      }
    });
    assert.ok(sent, r.stderr);
    assert.equal(r.code, 130, r.stderr);
    assert.doesNotMatch(r.stderr, /^submit +done/m);
    const job = jobIdOf(r.stderr);
    const dir = `${p.dir}/.sealbatch/jobs/${job}`;

    // The secret is gone from Vault and the single-use credential is spent.
    const vault = await p.client();
    assert.equal(
      await vault.kvRead("secret", kvPathFor("job-scoped", p.site.SITE_USER!, job, "luks")),
      null,
    );
    await assert.rejects(Deno.stat(`${dir}/keys.json`));
    const record = JSON.parse(await Deno.readTextFile(`${dir}/keys.revoked.json`));
    assert.ok(record.revoked_at);
    await assert.rejects(vault.unwrap(record.keys[0].token));
    // The sealed run.sh embedded those credentials: it is gone, and so is its state.
    await assert.rejects(Deno.stat(`${dir}/run.sh`));
    const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`));
    const steps = state.steps.map((s: { name: string }) => s.name);
    assert.ok(!steps.includes("escrow") && !steps.includes("seal-job"), steps.join(","));
    assert.ok(steps.includes("seal-input"));
    // No plaintext left behind by the interrupted run: only ciphertext and the 0600 key.
    for await (const e of Deno.readDir(dir)) {
      assert.ok(
        ["state.json", "keys", "keys.revoked.json", "input.img", "image.sif"].includes(e.name) ||
          e.name.startsWith("."),
        `unexpected ${e.name} in the job state`,
      );
    }
  },
});
