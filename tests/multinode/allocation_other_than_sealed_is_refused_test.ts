/**
 * A job sealed for 3 nodes whose allocation was changed to 2 while it was queued (scontrol update,
 * as whoever runs Slurm could): the first node refuses it from the manifest's node count before
 * any node's part starts, with the refusal's exit code, and the command runs nowhere.
 */
import assert from "node:assert/strict";
import { EXIT_CODES } from "../../src/util/errors.ts";
import { remote } from "../run/_fixture.ts";
import { leftOnNodes, SITE_SKIP } from "./_cluster.ts";
import { nodesThatRan, runHeld, sealedProject, slurmExitCode, slurmLog } from "./_sealed.ts";

Deno.test({
  name: "a job sealed for 3 nodes that Slurm gives 2 is refused before any node's part starts",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await sealedProject({ held: true });
    const r = await runHeld(p, async (id) => {
      await remote(p.site, `scontrol update JobId=${id} NumNodes=2-2`);
    });
    assert.notEqual(r.code, 0, r.stdout);
    assert.equal(await slurmExitCode(p, r.slurmId), `${EXIT_CODES.refused}:0`);
    const log = await slurmLog(p, r.job);
    assert.match(
      log,
      /^sealbatch: error: job "\S+" was sealed for 3 nodes, but Slurm allocated 2$/m,
    );
    assert.doesNotMatch(log, /starting on|node \d: /, "no node's part started");
    assert.deepEqual(await nodesThatRan(p, r.slurmId), []);
    assert.deepEqual(await leftOnNodes(p.site, r.slurmId), []);
  },
});
