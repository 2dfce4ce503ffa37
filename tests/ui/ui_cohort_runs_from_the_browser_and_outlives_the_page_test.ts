/**
 * A cohort from the browser (local executor): one job per input directory
 * matching the pattern, each with its own state and results; closing the
 * page does not stop the run, and the run page opened again in a new tab
 * shows it to its end. A cancelled run stops and says so.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { writeSheppLoganSample } from "../../src/sample/shepp_logan.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { listJobs, projectStateDir } from "../../src/run/project.ts";
import { MEMORY_AVAILABLE, memoryDir } from "../run/_memory.ts";
import { BROWSER_SKIP, launchBrowser } from "./_browser.ts";
import { screenshotDir, shot, startUiProcess } from "./_ui.ts";

Deno.test({
  name: "ui: a cohort runs from the browser, one job per input, and outlives the closed page; " +
    "a job runs in one run at a time; cancel stops a run",
  ignore: Boolean(BROWSER_SKIP) || !(await hasProgram("bart")) || !MEMORY_AVAILABLE,
  async fn() {
    await using dir = await tempDir("sealbatch-ui-cohort");
    await using mem = await memoryDir();
    const project = `${dir.path}/project`;
    for (const name of ["p01", "p02", "p03"]) {
      await writeSheppLoganSample(`${project}/inputs/${name}`);
    }
    await using shotDir = await screenshotDir();
    const shots = shotDir.path;
    await using ui = await startUiProcess(project, {
      env: { ...mem.env, XDG_CONFIG_HOME: `${dir.path}/config` },
    });
    await using browser = await launchBrowser();
    const first = await browser.page();
    await first.goto(ui.url);
    await first.goto(`${ui.origin}/new`);
    await first.fill({ name: "bart-fft", input: "inputs/p01" });
    await first.click("Write job spec");
    await first.goto(`${ui.origin}/run?spec=job.yaml`);
    await first.fill({ site: "local", each: "inputs/*", concurrency: "2" });
    await first.click("Start run");
    const runPath = await first.eval<string>("location.pathname");
    assert.match(runPath, /^\/run\/[0-9a-f]{16}$/);
    // The tab goes away at once; the run does not.
    await first.send("Page.close");

    const again = await browser.page();
    await again.goto(`${ui.origin}/run`);
    assert.match(await again.text(), /job\.yaml on local --each "inputs\/\*"/);
    await again.goto(`${ui.origin}${runPath}`);
    await again.waitFor("document.body.innerText.includes('Cohort')", 240_000);
    const rows = await again.eval<string[]>(
      "[...document.querySelectorAll('h2 + .scroll tbody tr')].map((r) => r.innerText)",
    );
    assert.equal(rows.length, 3, rows.join("\n"));
    for (const [i, name] of ["p01", "p02", "p03"].entries()) {
      assert.match(
        rows[i]!,
        new RegExp(
          `^${name}\\s+bart-fft-[0-9a-f]{8}\\s+local-\\d+\\s+COMPLETED\\s+\\S+/results/${name}$`,
        ),
      );
    }
    await shot(again, shots, "cohort");

    // Each job has its own state and opened results, with the PNG.
    const jobs = await listJobs(projectStateDir(project));
    assert.equal(jobs.filter((j) => j.finished).length, 3);
    for (const j of jobs) {
      await again.goto(`${ui.origin}/results/${j.job}`);
      await again.waitFor(
        "document.querySelector('figure img') && document.querySelector('figure img').naturalWidth === 256",
      );
    }

    // Cancel: a job that takes its time is cancelled while it runs.
    await again.goto(`${ui.origin}/new`);
    await again.fill({
      file: "slow.yaml",
      name: "slow",
      input: "inputs/p01",
      command: "sleep 600; bart fft -u -i 3 {input}/shepp_logan {output}/output_fft",
      outputs: "results-slow",
    });
    await again.click("Write job spec");
    await again.goto(`${ui.origin}/run?spec=slow.yaml`);
    await again.fill({ site: "local" });
    await again.click("Start run");
    await again.waitFor("/Slurm state: RUNNING/.test(document.body.innerText)", 120_000);
    await shot(again, shots, "run-live");
    const slowRun = await again.eval<string>("location.href");
    // A second start of the same job while it runs is refused, and leaves the first alone.
    await again.goto(`${ui.origin}/run?spec=slow.yaml`);
    await again.fill({ site: "local" });
    await again.click("Start run");
    await again.waitFor("/Status: FAILED/.test(document.body.innerText)");
    assert.match(await again.text(), /job "slow-[0-9a-f]{8}" is already running in this UI/);
    await again.goto(slowRun);
    assert.match(await again.text(), /Slurm state: RUNNING/);
    await again.click("Cancel run");
    await again.waitFor("/Status: cancelled/.test(document.body.innerText)", 120_000);
    assert.match(await again.text(), /Slurm state: CANCELLED/);
  },
});
