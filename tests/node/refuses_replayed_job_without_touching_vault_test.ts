/**
 * A valid run.sh + run.sh.sig of a job that already ran, submitted again by
 * someone who controls the shared file system: as it is, and renamed into a
 * new job directory with its input beside it. The node refuses both as a
 * replay (exit 4) before the job's script runs, so the single-use Vault
 * credentials inside are never presented: the Vault stand-in (the
 * development server behind a request counter) gets no request at all.
 */
import assert from "node:assert/strict";
import { MEMORY_AVAILABLE, sealedRun } from "./_sealed_run.ts";

Deno.test({
  name: "a replayed job, as is or renamed into a new directory, is refused without a Vault request",
  ignore: !MEMORY_AVAILABLE,
  async fn() {
    let checked = false;
    const run = await sealedRun(
      "ls {input} > {output}/listing",
      async ({ backend, jobDir, vaultRequests }) => {
        const before = vaultRequests();
        assert.ok(before > 0, "the first run used Vault");

        const again = await backend.submit(jobDir, {}, "replay-as-is");
        const asIs = await backend.wait(again);
        assert.equal(asIs.exitCode, "4:0");
        const logAsIs = await Deno.readTextFile(`${jobDir}/slurm-${again}.out`);
        assert.match(
          logAsIs,
          /^sealbatch: error: job .* was already run on this node .*: replay$/m,
        );

        const renamed = `${jobDir}-renamed`;
        await Deno.mkdir(renamed, { mode: 0o700 });
        await Deno.chmod(renamed, 0o700);
        for (const name of ["run.sh", "run.sh.sig", "input.img"]) {
          await Deno.copyFile(`${jobDir}/${name}`, `${renamed}/${name}`);
        }
        const moved = await backend.submit(renamed, {}, "replay-renamed");
        const inNewDir = await backend.wait(moved);
        assert.equal(inNewDir.exitCode, "4:0");
        const logMoved = await Deno.readTextFile(`${renamed}/slurm-${moved}.out`);
        assert.match(
          logMoved,
          /^sealbatch: error: job .* was already run on this node .*: replay$/m,
        );
        for (const log of [logAsIs, logMoved]) assert.doesNotMatch(log, /keys fetched|job started/);

        assert.equal(vaultRequests(), before, "a replayed job reached Vault");
        checked = true;
      },
    );
    assert.ok(!(run.outcome instanceof Error), String(run.outcome));
    assert.ok(checked);
  },
});
