import assert from "node:assert/strict";
import { bartReference, E2E_SKIP, makeProject, runIn } from "./_fixture.ts";

Deno.test({
  name: "--each runs one job per input directory, each with its own key, and prints a table",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject({ inputs: ["inputs/p01", "inputs/p02"] });
    const r = await runIn(p, [
      "run",
      "job.yaml",
      "--site",
      "site.yaml",
      "--each",
      "inputs/*",
      "--concurrency",
      "2",
    ]);
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
    assert.match(r.stderr, /cohort: 2 jobs/);
    const ref = await bartReference(p.dir);
    for (const name of ["p01", "p02"]) {
      assert.match(r.stdout, new RegExp(`^${name} +bart-fft-[0-9a-f]{8} +\\d+ +COMPLETED`, "m"));
      assert.deepEqual(await Deno.readFile(`${p.dir}/results/${name}/output_fft.cfl`), ref.cfl);
    }
    // Two jobs, two escrows with distinct credentials.
    const jobs = [];
    for await (const e of Deno.readDir(`${p.dir}/.sealbatch/jobs`)) jobs.push(e.name);
    assert.equal(jobs.length, 2);
    const records = await Promise.all(
      jobs.map(async (j) =>
        JSON.parse(await Deno.readTextFile(`${p.dir}/.sealbatch/jobs/${j}/keys.json`))
      ),
    );
    assert.notEqual(records[0].keys[0].token, records[1].keys[0].token);
    assert.notEqual(records[0].keys[0].path, records[1].keys[0].path);
  },
});
