/**
 * The Jobs page and the job's page show the interception alarm prominently
 * when a job's single-use credential was used although the job had not
 * started (here: unwrapped by someone else before submission), and only for
 * that job. The credentials themselves, the Vault tokens and the key bytes
 * never reach the browser.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { escrowJob } from "../../src/kms/escrow.ts";
import { readRecord } from "../../src/kms/job_record.ts";
import { VaultClient } from "../../src/kms/vault_client.ts";
import { projectStateDir } from "../../src/run/project.ts";
import { RunState } from "../../src/run/state.ts";
import { BROWSER_SKIP, launchBrowser } from "./_browser.ts";
import { assertNoSecrets, screenshotDir, shot, startUiProcess } from "./_ui.ts";

Deno.test({
  name:
    "ui: a credential used before the job started raises the interception alarm on the Jobs page",
  ignore: Boolean(BROWSER_SKIP),
  async fn() {
    await using dir = await tempDir("sealbatch-ui-alarm");
    const project = `${dir.path}/project`;
    const stateRoot = projectStateDir(project);
    const server = await startDevServer({ hostname: "127.0.0.1", port: 0 });
    const vault = await VaultClient.connect({ addr: server.addr }, server.rootToken);
    try {
      const keyBytes = crypto.getRandomValues(new Uint8Array(64));
      const keyHex = [...keyBytes].map((b) => b.toString(16).padStart(2, "0")).join("");
      const escrowed = async (job: string) => {
        const state = await RunState.open(`${stateRoot}/jobs/${job}`, job);
        await state.step("plan", () =>
          Promise.resolve({
            spec: `${project}/job.yaml`,
            name: "mri",
            input: `${project}/input`,
            outputs: `${project}/results`,
            createdAt: new Date().toISOString(),
          }));
        const file = `${stateRoot}/jobs/${job}/luks.key`;
        await Deno.writeFile(file, keyBytes, { mode: 0o600 });
        await state.step("escrow", async () => {
          const r = await escrowJob(vault, {
            job,
            user: "alice",
            keys: [{ name: "luks", file }],
            mode: "job-scoped",
            wrapTtlMs: 3_600_000,
            mount: "secret",
            stateDir: stateRoot,
          });
          return { record: r.recordPath };
        });
      };
      await escrowed("mri-0000aaaa");
      await escrowed("mri-1111bbbb");
      // Someone else spends the first job's credential while it waits to be submitted.
      const record = await readRecord(stateRoot, "mri-0000aaaa");
      const stolen = await fetch(`${server.addr}/v1/sys/wrapping/unwrap`, {
        method: "POST",
        headers: { "x-vault-token": record.keys[0]!.token },
      });
      assert.equal(stolen.status, 200);
      await stolen.body?.cancel();
      const tokens = [
        server.rootToken,
        ...record.keys.map((k) => k.token),
        ...(await readRecord(stateRoot, "mri-1111bbbb")).keys.map((k) => k.token),
      ];

      await using shotDir = await screenshotDir();
      const shots = shotDir.path;
      await using ui = await startUiProcess(project, {
        env: { XDG_CONFIG_HOME: `${dir.path}/config` },
      });
      await using browser = await launchBrowser();
      const p = await browser.page();
      await p.goto(ui.url);
      await p.goto(`${ui.origin}/jobs`);
      const alarm = await p.eval<string>("document.querySelector('.alarm[role=alert]').innerText");
      assert.match(alarm, /ALARM: possible interception of job\s+mri-0000aaaa/);
      assert.doesNotMatch(alarm, /mri-1111bbbb/);
      const rows = await p.eval<string[]>(
        "[...document.querySelectorAll('tbody tr')].map((r) => r.innerText)",
      );
      assert.match(rows.find((r) => r.includes("mri-0000aaaa"))!, /ALARM: possible interception/);
      assert.match(rows.find((r) => r.includes("mri-1111bbbb"))!, /luks unused/);
      await shot(p, shots, "jobs-interception");

      await p.goto(`${ui.origin}/jobs/mri-0000aaaa`);
      const show = await p.text();
      assert.match(show, /ALARM: possible interception/);
      assert.match(show, /luks\s+used\s+\S+\s+POSSIBLE INTERCEPTION/);
      await p.goto(`${ui.origin}/jobs/mri-1111bbbb`);
      assert.doesNotMatch(await p.text(), /ALARM/);

      for (const [i, html] of p.seen.entries()) {
        assertNoSecrets(`page ${i}`, html, [
          ...tokens,
          keyHex,
          btoa(String.fromCharCode(...keyBytes)),
        ]);
      }
    } finally {
      vault.close();
      await server.shutdown();
    }
  },
});
