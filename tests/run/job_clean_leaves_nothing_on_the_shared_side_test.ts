/**
 * Leftovers: `job clean` removes a finished job's directory on the shared
 * side, checks its Vault secrets are gone (deleting what a failed run kept),
 * drops the local container copies and keeps the local results; a job still
 * queued or running is refused. A refused rerun creates no job directory.
 */
import assert from "node:assert/strict";
import { cleanJob, notCleanable } from "../../src/run/clean.ts";
import { listJobs, showJob } from "../../src/run/project.ts";
import { runJob } from "../../src/run/run.ts";
import { runCli } from "../_helpers/cli.ts";
import { MEMORY_AVAILABLE, memoryDir } from "./_memory.ts";
import { localProject } from "./_local.ts";

const opts = { ignore: !MEMORY_AVAILABLE, sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "job clean removes a finished job's shared files and keeps its local results",
  ...opts,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root });
    const input = await p.input();
    const summary = await runJob(input);
    assert.equal(summary.exitCode, 0);
    const remote = p.backend.jobDir("local-00000001");
    await Deno.stat(`${remote}/run.sh`);
    const root = `${p.project}/.sealbatch`;
    const r = await cleanJob({
      stateRoot: root,
      entry: await showJob(root, "local-00000001"),
      backend: p.backend,
      vault: p.vault,
    });
    assert.equal(r.secretsGone, 1);
    assert.equal(r.revokedNow, false);
    await assert.rejects(Deno.stat(remote), Deno.errors.NotFound);
    assert.deepEqual(await p.vault.kvList("secret", "sealbatch/"), []);
    // Local results stay: the outputs, the receipt and the state.
    assert.equal(await Deno.readTextFile(`${p.project}/results/data.txt`), "k-space\n");
    await Deno.stat(`${input.stateDir}/results/receipt.json`);
    const [entry] = await listJobs(root);
    assert.ok(entry?.cleanedAt, "job list shows it cleaned");
    const list = await runCli(["job", "list", "--project", p.project]);
    assert.match(list.stdout, /^local-00000001 .* COMPLETED, cleaned /m);
  },
});

Deno.test({
  name: "job clean deletes the secrets a failed run kept, and refuses a job still running",
  ...opts,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root });
    // The upload fails after escrow and sealing: the run keeps the credentials for a resume.
    await Deno.writeTextFile(`${p.dir}/shared/jobs`, "not a directory\n");
    await assert.rejects(runJob(await p.input()));
    assert.notDeepEqual(await p.vault.kvList("secret", "sealbatch/"), []);
    await Deno.remove(`${p.dir}/shared/jobs`);
    const root = `${p.project}/.sealbatch`;
    const entry = await showJob(root, "local-00000001");
    const r = await cleanJob({ stateRoot: root, entry, backend: p.backend, vault: p.vault });
    assert.equal(r.revokedNow, true);
    assert.deepEqual(await p.vault.kvList("secret", "sealbatch/"), []);

    const running = { ...entry, slurmJob: "77", steps: [...entry.steps, "submit" as const] };
    assert.match(notCleanable(running) ?? "", /has not been seen to end: cancel it first/);
  },
});

Deno.test({
  name: "a refused rerun (outputs not empty) creates no job directory",
  ...opts,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root });
    await Deno.mkdir(`${p.project}/results`);
    await Deno.writeTextFile(`${p.project}/results/old.txt`, "earlier results\n");
    for (let i = 0; i < 2; i++) {
      await assert.rejects(runJob(await p.input()), /outputs directory .* is not empty/);
    }
    await assert.rejects(Deno.stat(`${p.project}/.sealbatch`), Deno.errors.NotFound);
  },
});
