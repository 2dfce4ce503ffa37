/**
 * The tutorial's job from the browser only, against the local executor (the
 * demo's stand-in site): the New job form (its errors next to the field they
 * concern, nothing written), the job.yaml it writes (loaded as a terminal
 * user's spec), the dry run, the run followed live, the Jobs page with the
 * verified receipt, and the Results page whose PNG is the one `sealbatch
 * view` makes. A failing job shows its stderr. Screenshots of each page are
 * taken; no page carries key or token material.
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { writeSheppLoganSample } from "../../src/sample/shepp_logan.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { MEMORY_AVAILABLE, memoryDir } from "../run/_memory.ts";
import { BROWSER_SKIP, launchBrowser } from "./_browser.ts";
import { assertNoSecrets, screenshotDir, shot, startUiProcess } from "./_ui.ts";

const HAS_BART = await hasProgram("bart");

Deno.test({
  name: "ui: the tutorial job from the New job page to the PNG on the Results page " +
    "(local executor), and a failing job's stderr",
  ignore: Boolean(BROWSER_SKIP) || !HAS_BART || !MEMORY_AVAILABLE,
  async fn() {
    await using dir = await tempDir("sealbatch-ui-tutorial");
    await using mem = await memoryDir();
    const project = `${dir.path}/project`;
    await writeSheppLoganSample(`${project}/input`);
    await using shotDir = await screenshotDir();
    const shots = shotDir.path;
    await using ui = await startUiProcess(project, {
      env: { ...mem.env, XDG_CONFIG_HOME: `${dir.path}/config` },
    });
    await using browser = await launchBrowser();
    const p = await browser.page();

    // Logged in the way `sealbatch ui` opens a desktop browser: a local file forwards to the
    // address (a navigation from another origin, which must still end up logged in).
    await Deno.writeTextFile(
      `${dir.path}/open.html`,
      `<!doctype html><meta http-equiv="refresh" content="0;url=${ui.url}">`,
    );
    await p.goto(`file://${dir.path}/open.html`);
    await p.waitFor(
      "location.pathname === '/run' && document.querySelector('h1').textContent === 'Run'",
    );
    // Keyboard: the first Tab reaches the skip link, the next ones the page navigation.
    await p.send("Input.dispatchKeyEvent", {
      type: "keyDown",
      key: "Tab",
      code: "Tab",
      windowsVirtualKeyCode: 9,
    });
    assert.equal(await p.eval("document.activeElement.textContent"), "Skip to content");

    await p.goto(`${ui.origin}/sites`);
    assert.match(await p.text(), /local executor/);
    await shot(p, shots, "sites");
    await shot(p, shots, "sites-narrow", { width: 400, height: 800 });

    // A wrong field: the loader's message next to it, nothing written.
    await p.goto(`${ui.origin}/new`);
    await shot(p, shots, "new-job");
    await shot(p, shots, "new-job-narrow", { width: 400, height: 800 });
    await p.fill({ name: "bart fft!", input: "input" });
    await p.click("Write job spec");
    assert.match(
      await p.eval<string>("document.getElementById('f-name-error').textContent"),
      /job\.yaml:2:\d+: invalid job name "bart fft!"/,
    );
    assert.equal(
      await p.eval("document.getElementById('f-name').getAttribute('aria-invalid')"),
      "true",
    );
    await p.fill({ name: "bart-fft", time: "ten minutes" });
    await p.click("Write job spec");
    assert.match(
      await p.eval<string>("document.getElementById('f-time-error').textContent"),
      /resources\.time: expected a Slurm time/,
    );
    await shot(p, shots, "new-job-error");
    await assert.rejects(Deno.stat(`${project}/job.yaml`), Deno.errors.NotFound);

    await p.fill({ time: "00:10:00", mem: "1G" });
    await p.click("Write job spec");
    assert.match(await p.text(), /wrote .*job\.yaml/);
    // The file a terminal user would write: `sealbatch run` reads it the same way.
    const spec = await loadJobSpec(`${project}/job.yaml`);
    assert.equal(spec.name, "bart-fft");
    assert.deepEqual(spec.input, { kind: "dir", path: `${project}/input` });
    assert.equal(spec.command, "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft");
    assert.deepEqual(spec.resources, { time: "00:10:00", mem: "1G" });
    assert.equal(spec.outputs, `${project}/results`);

    // The dry run: what would be uploaded and submitted.
    await p.fill({ site: "local" });
    await p.click("Dry run");
    await p.waitFor("document.body.innerText.includes('Would submit')");
    const dry = await p.text();
    for (const f of ["input.img", "run.sh.sig", "run.sh"]) {
      assert.match(dry, new RegExp(`^${f.replace(".", "\\.")}\\s+\\d+\\s+[0-9a-f]{64}$`, "m"));
    }
    assert.match(dry, /Nothing was escrowed/);
    await shot(p, shots, "dry-run");

    // The run, followed live; the page updates itself (no reload) until the result.
    await p.goto(`${ui.origin}/run?spec=job.yaml`);
    await p.fill({ site: "local" });
    await p.click("Start run");
    const runUrl = await p.eval<string>("location.href");
    await p.waitFor("document.body.innerText.includes('Result: COMPLETED')", 180_000);
    assert.equal(await p.eval("location.href"), runUrl, "live updates, no navigation");
    const run = await p.text();
    assert.match(run, /Slurm id: local-\d+/);
    assert.match(run, /Receipt: verified/);
    await shot(p, shots, "run");
    await shot(p, shots, "run-narrow", { width: 400, height: 800 });

    await p.goto(`${ui.origin}/jobs`);
    const jobs = await p.text();
    const job = /bart-fft-[0-9a-f]{8}/.exec(jobs)?.[0];
    assert.ok(job, jobs);
    assert.match(jobs, /COMPLETED/);
    await shot(p, shots, "jobs");
    await shot(p, shots, "jobs-narrow", { width: 400, height: 800 });
    // An unknown job is a plain message on a normal page, not a crash.
    await p.goto(`${ui.origin}/jobs/nope-00000000`);
    assert.match(await p.text(), /Error: no job "nope-00000000"[^]*hint: see the project's jobs/);
    await p.goto(`${ui.origin}/jobs/${job}`);
    const show = await p.text();
    assert.match(show, /verified\s+signed by the node key/);
    assert.match(show, /Revoked \(or never escrowed\)/);
    await shot(p, shots, "job");

    // Results: the PNG inline is exactly what `sealbatch view` writes for the same file.
    await p.goto(`${ui.origin}/results/${job}`);
    await p.waitFor(
      "document.querySelector('figure img') && document.querySelector('figure img').naturalWidth === 256",
    );
    const inline = Uint8Array.from(
      atob(
        await p.eval<string>(`fetch(document.querySelector('figure img').src)
        .then((r) => r.arrayBuffer())
        .then((b) => btoa(String.fromCharCode(...new Uint8Array(b))))`),
      ),
      (c) => c.charCodeAt(0),
    );
    const view = await runCli([
      "view",
      `${project}/results/output_fft`,
      "--out",
      `${dir.path}/view.png`,
    ]);
    assert.equal(view.code, 0, view.stderr);
    assert.deepEqual(inline, await Deno.readFile(`${dir.path}/view.png`));
    assert.equal(decode(inline).width, 256);
    assert.match(await p.text(), /output_fft\.cfl[^]*job\.stderr/);
    await shot(p, shots, "results");
    await shot(p, shots, "results-narrow", { width: 400, height: 800 });

    // A failing job: FAILED, and its stderr (decrypted from its results) on the run and job pages.
    await p.goto(`${ui.origin}/new`);
    await p.fill({
      file: "fail.yaml",
      name: "fails",
      input: "input",
      command: "bart fft -u -i 3 {input}/no_such_file {output}/x",
      outputs: "results-fail",
    });
    await p.click("Write job spec");
    await p.goto(`${ui.origin}/run?spec=fail.yaml`);
    await p.fill({ site: "local" });
    await p.click("Start run");
    await p.waitFor("document.body.innerText.includes('Result: FAILED')", 180_000);
    const failed = await p.text();
    assert.match(failed, /stderr of job fails-[0-9a-f]{8}[^]*no_such_file/);
    await shot(p, shots, "run-failed");
    const failedJob = /fails-[0-9a-f]{8}/.exec(failed)![0];
    await p.goto(`${ui.origin}/jobs/${failedJob}`);
    assert.match(await p.text(), /FAILED \(exit \d+\)[^]*stderr \(decrypted[^]*no_such_file/);

    for (const [i, html] of p.seen.entries()) assertNoSecrets(`page ${i}`, html);
  },
});
