/**
 * The whole tutorial from the browser against the local test site (sshd,
 * Slurm, the node side installed as an admin would): the site profile
 * written on the Sites page and checked there check by check, the job spec
 * from the New job page, the run over SSH and Slurm, the PNG on the Results
 * page; then a cohort. Vault is the development server (the project's
 * stand-in), reached by the node on loopback.
 *
 * Run under the machine-wide site lock:
 *   flock /tmp/sealbatch-test-site.lock node_modules/.bin/deno test -q -P=test tests/ui/ui_tutorial_job_and_cohort_on_the_test_site_test.ts
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { writeSheppLoganSample } from "../../src/sample/shepp_logan.ts";
import { siteEnv } from "../remote/_site.ts";
import { E2E_SKIP } from "../run/_fixture.ts";
import { BROWSER_SKIP, launchBrowser } from "./_browser.ts";
import { assertNoSecrets, screenshotDir, shot, startUiProcess } from "./_ui.ts";

Deno.test({
  name: "ui: the tutorial job and a cohort from the browser on the local test site",
  ignore: Boolean(BROWSER_SKIP) || E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const site = await siteEnv();
    await using dir = await tempDir("sealbatch-ui-site");
    const project = `${dir.path}/project`;
    await writeSheppLoganSample(`${project}/input`);
    for (const name of ["p01", "p02"]) await writeSheppLoganSample(`${project}/inputs/${name}`);
    const vault = await startDevServer({ hostname: "127.0.0.1", port: 0 });
    try {
      const profile = `name: testsite
sign_key: ${site.SITE_USER_SECKEY}
ssh:
  login: { host: ${site.SITE_HOST}, port: ${site.SITE_PORT} }
  user: ${site.SITE_USER}
  identity: ${site.SITE_IDENTITY}
  known_hosts: ${site.SITE_KNOWN_HOSTS}
remote:
  base_dir: ${site.SITE_REMOTE_DIR}
vault:
  addr: ${vault.addr}
  wrap_ttl: 1h
node:
  public_key: ${site.SITE_NODE_PUBKEY}
  command: [${site.SITE_NODE_COMMAND ?? "/usr/local/bin/sealbatch"}]
slurm:
  partition: secure
  exclusive: true
`;
      const shots = await screenshotDir();
      await using ui = await startUiProcess(project, {
        env: { XDG_CONFIG_HOME: `${dir.path}/config`, VAULT_TOKEN: vault.rootToken },
      });
      await using browser = await launchBrowser();
      const p = await browser.page();
      await p.goto(ui.url);

      // The profile, written through the Sites page, then checked there.
      await p.goto(`${ui.origin}/sites?name=testsite`);
      assert.match(
        await p.eval<string>("document.getElementById('f-profile').value"),
        /^name: testsite$/m,
      );
      await p.fill({ profile: profile.replace("partition: secure", "partition: [secure]") });
      await p.click("Write profile");
      assert.match(
        await p.eval<string>("document.getElementById('f-profile-error').textContent"),
        /testsite\.yaml:\d+:\d+: .*slurm\.partition/,
      );
      await p.fill({ profile });
      await p.click("Write profile");
      assert.match(await p.text(), /wrote .*\/config\/sealbatch\/sites\/testsite\.yaml/);
      assert.equal(
        (await Deno.stat(`${dir.path}/config/sealbatch/sites/testsite.yaml`)).mode! & 0o777,
        0o600,
      );
      await p.click("Check testsite");
      await p.waitFor("document.body.innerText.includes('All checks passed')", 120_000);
      const checks = await p.text();
      for (const c of ["node key", "signing key", "vault", "vault token", "ssh", "partition"]) {
        assert.match(checks, new RegExp(`^ok\\s+${c}\\s`, "m"));
      }
      await shot(p, shots, "sites-check");

      await p.goto(`${ui.origin}/new`);
      await p.fill({ name: "bart-fft", input: "input" });
      await p.click("Write job spec");
      await p.goto(`${ui.origin}/run?spec=job.yaml`);
      await p.fill({ site: "testsite" });
      await p.click("Start run");
      await p.waitFor(
        "/Result: (COMPLETED|FAILED)|Status: FAILED/.test(document.body.innerText)",
        300_000,
      );
      const run = await p.text();
      assert.match(run, /Result: COMPLETED/, run);
      assert.match(run, /Slurm id: \d+/);
      assert.match(run, /Receipt: verified/);
      await shot(p, shots, "run-test-site");
      const job = /bart-fft-[0-9a-f]{8}/.exec(run)![0];
      await p.goto(`${ui.origin}/results/${job}`);
      await p.waitFor(
        "document.querySelector('figure img') && document.querySelector('figure img').naturalWidth === 256",
      );

      // A cohort over the same site.
      await p.goto(`${ui.origin}/run?spec=job.yaml`);
      await p.fill({ site: "testsite", each: "inputs/*" });
      await p.click("Start run");
      await p.waitFor("document.body.innerText.includes('Cohort')", 400_000);
      const rows = await p.eval<string[]>(
        "[...document.querySelectorAll('h2 + .scroll tbody tr')].map((r) => r.innerText)",
      );
      assert.equal(rows.length, 2, rows.join("\n"));
      for (const [i, name] of ["p01", "p02"].entries()) {
        assert.match(
          rows[i]!,
          new RegExp(`^${name}\\s+bart-fft-[0-9a-f]{8}\\s+\\d+\\s+COMPLETED\\s`),
        );
      }

      for (const [i, html] of p.seen.entries()) {
        assertNoSecrets(`page ${i}`, html, [vault.rootToken]);
      }
    } finally {
      await vault.shutdown();
    }
  },
});
