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
import { runCli, tempDir } from "../_helpers/cli.ts";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { writeSheppLoganSample } from "../../src/sample/shepp_logan.ts";
import { siteEnv } from "../remote/_site.ts";
import { BART_COMMAND, E2E_SKIP } from "../run/_fixture.ts";
import { BROWSER_SKIP, launchBrowser } from "./_browser.ts";
import { assertNoSecrets, screenshotDir, shot, startUiProcess } from "./_ui.ts";

function profileText(site: Record<string, string>, vaultAddr: string): string {
  return `name: testsite
sign_key: ${site.SITE_USER_SECKEY}
ssh:
  login: { host: ${site.SITE_HOST}, port: ${site.SITE_PORT} }
  user: ${site.SITE_USER}
  identity: ${site.SITE_IDENTITY}
  known_hosts: ${site.SITE_KNOWN_HOSTS}
remote:
  base_dir: ${site.SITE_REMOTE_DIR}
vault:
  addr: ${vaultAddr}
  wrap_ttl: 1h
node:
  public_key: ${site.SITE_NODE_PUBKEY}
  command: [${site.SITE_SEALBATCH}]
slurm:
  partition: secure
  exclusive: true
`;
}

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
      const profile = profileText(site, vault.addr);
      await using shotDir = await screenshotDir();
      const shots = shotDir.path;
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
      for (
        const c of [
          "node key",
          "signing key",
          "vault",
          "vault token",
          "host key",
          "login",
          "partition",
        ]
      ) {
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

      // A protected signing key: its passphrase is asked in the page and goes to the step.
      const passphrase = `pw-${crypto.randomUUID()}`;
      await Deno.writeTextFile(`${dir.path}/pw`, passphrase + "\n", { mode: 0o600 });
      const keygen = await runCli([
        "keygen",
        "--kind",
        "user",
        "--name",
        "locked",
        "--email",
        "locked@example.org",
        "--out",
        `${dir.path}/keys`,
        "--passphrase-file",
        `${dir.path}/pw`,
      ]);
      assert.equal(keygen.code, 0, keygen.stderr);
      await Deno.writeTextFile(
        `${dir.path}/config/sealbatch/sites/locked.yaml`,
        profile.replace("name: testsite", "name: locked")
          .replace(site.SITE_USER_SECKEY!, `${dir.path}/keys/locked.sec.asc`),
        { mode: 0o600 },
      );
      await Deno.writeTextFile(
        `${project}/locked.yaml`,
        (await Deno.readTextFile(`${project}/job.yaml`)).replace(
          "outputs: results",
          "outputs: results-locked",
        ),
      );
      await p.goto(`${ui.origin}/run?spec=locked.yaml`);
      await p.fill({ site: "locked", dry_run: true });
      await p.click("Start run");
      await p.waitFor("document.getElementById('f-passphrase')", 120_000);
      assert.match(
        await p.eval<string>("document.querySelector('#prompt label').textContent"),
        /Passphrase for .*locked/,
      );
      await shot(p, shots, "passphrase");
      await p.fill({ passphrase });
      await p.click("Unlock");
      await p.waitFor("/Would submit|Status: FAILED/.test(document.body.innerText)", 120_000);
      assert.match(await p.text(), /Would submit\s+sbatch/);

      for (const [i, html] of p.seen.entries()) {
        assertNoSecrets(`page ${i}`, html, [vault.rootToken, passphrase]);
      }
    } finally {
      await vault.shutdown();
    }
  },
});

Deno.test({
  name: "ui: a run cut off by the UI stopping (SIGKILL) resumes from its page: same job, " +
    "same Slurm job, nothing done twice",
  ignore: Boolean(BROWSER_SKIP) || E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const site = await siteEnv();
    await using dir = await tempDir("sealbatch-ui-resume");
    const project = `${dir.path}/project`;
    await writeSheppLoganSample(`${project}/input`);
    await Deno.writeTextFile(
      `${project}/job.yaml`,
      `name: bart-fft\ninput: input\ncommand: "sleep 10; ${BART_COMMAND}"\noutputs: results\n`,
    );
    await Deno.mkdir(`${dir.path}/config/sealbatch/sites`, { recursive: true });
    const vault = await startDevServer({ hostname: "127.0.0.1", port: 0 });
    try {
      await Deno.writeTextFile(
        `${dir.path}/config/sealbatch/sites/testsite.yaml`,
        profileText(site, vault.addr),
        { mode: 0o600 },
      );
      const env = { XDG_CONFIG_HOME: `${dir.path}/config`, VAULT_TOKEN: vault.rootToken };
      await using browser = await launchBrowser();
      const p = await browser.page();
      let slurm: string;
      {
        await using ui = await startUiProcess(project, { env });
        await p.goto(ui.url);
        await p.goto(`${ui.origin}/run?spec=job.yaml`);
        await p.fill({ site: "testsite" });
        await p.click("Start run");
        await p.waitFor("/Slurm id: \\d+/.test(document.body.innerText)", 300_000);
        slurm = /Slurm id: (\d+)/.exec(await p.text())![1]!;
        await ui.kill("SIGKILL");
      }
      await using ui = await startUiProcess(project, { env });
      await p.goto(ui.url);
      await p.goto(`${ui.origin}/run`);
      assert.match(await p.text(), /job\.yaml on testsite\s+interrupted/);
      await p.eval("document.querySelector('tbody a').click()");
      await p.loaded();
      // The page shows what the cut-off run got to, from the job's state.
      const before = await p.text();
      assert.match(before, new RegExp(`Slurm id: ${slurm}\\b`));
      assert.match(before, /^submit\s+done/m);
      await p.click("Resume");
      await p.waitFor(
        "/Result: (COMPLETED|FAILED)|Status: FAILED/.test(document.body.innerText)",
        300_000,
      );
      const run = await p.text();
      assert.match(run, /Result: COMPLETED/, run);
      assert.match(run, new RegExp(`Slurm id: ${slurm}\\b`), "the same Slurm job was waited for");
      for (const step of ["seal-input", "escrow", "upload", "submit"]) {
        assert.match(run, new RegExp(`^${step}\\s+skipped\\s+done in an earlier run`, "m"));
      }
      await p.goto(`${ui.origin}/jobs`);
      assert.equal((await p.text()).match(/bart-fft-[0-9a-f]{8}/g)?.length, 1, "one job, not two");
    } finally {
      await vault.shutdown();
    }
  },
});
