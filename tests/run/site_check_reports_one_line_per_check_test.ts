import assert from "node:assert/strict";
import { SITE_SKIP } from "../remote/_site.ts";
import { makeProject, runIn } from "./_fixture.ts";

Deno.test({
  name: "site check validates the profile, then checks keys, Vault and the site, one line each",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const good = await runIn(p, ["site", "check", "site.yaml"]);
    assert.equal(good.code, 0, good.stderr + good.stdout);
    for (
      const check of [
        "profile",
        "node key",
        "signing key",
        "vault",
        "vault token",
        "host key",
        "login",
        "sbatch",
        "partition",
        "remote directory",
        "node command",
        "node work dir",
      ]
    ) {
      assert.match(good.stdout, new RegExp(`^ok +${check}: `, "m"), check);
    }

    // A Vault that does not answer: that line fails with what to do; the others still run.
    const text = await Deno.readTextFile(p.profile);
    await Deno.writeTextFile(p.profile, text.replace(p.vault.addr, "http://127.0.0.1:9"));
    const bad = await runIn(p, ["site", "check", "site.yaml"]);
    assert.equal(bad.code, 6, bad.stderr);
    assert.match(bad.stdout, /^FAIL vault: .*127\.0\.0\.1:9.*\n {5}hint: check vault\.addr/m);
    assert.match(bad.stdout, /^ok +partition: secure exists/m);
    assert.match(bad.stderr, /1 of \d+ checks failed/);

    // --offline only validates.
    const offline = await runIn(p, ["site", "check", "site.yaml", "--offline"]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /^ok +profile: .* is valid$/m);
  },
});
