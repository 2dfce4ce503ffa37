/**
 * `run --dry-run` of a job of several nodes says what will happen on the nodes, shows the sbatch
 * line with --nodes, and checks the job's own node count against the secure partition: 3 nodes
 * fit the test cluster, 4 do not, and that dry run fails as `site check` would.
 */
import assert from "node:assert/strict";
import { makeProject, runIn } from "../run/_fixture.ts";
import { CLUSTER_NODES, SITE_SKIP } from "./_cluster.ts";

Deno.test({
  name: "a dry run of a job of several nodes checks the partition for the job's nodes",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    for (const nodes of [CLUSTER_NODES, CLUSTER_NODES + 1]) {
      await using p = await makeProject({
        nodes: CLUSTER_NODES,
        specExtra: `  nodes: ${nodes}\n  tasks_per_node: 2\noutputs_from: all\n`,
      });
      const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml", "--dry-run"]);
      const all = `${r.stderr}\n${r.stdout}`;
      assert.match(
        all,
        new RegExp(
          `a job of ${nodes} nodes, 2 tasks per node: every node verifies the job, .*` +
            `every node's outputs come back \\(.*/results/node-0 \\.\\. node-${nodes - 1}\\)`,
        ),
      );
      assert.match(all, new RegExp(`sbatch .*--nodes ${nodes} --ntasks-per-node 2`));
      if (nodes === CLUSTER_NODES) {
        assert.equal(r.code, 0, all);
        assert.match(all, /ok +partition: secure exists: 3 node\(s\)/);
      } else {
        assert.notEqual(r.code, 0, all);
        assert.match(
          all,
          /secure exists: 3 node\(s\), at most \S+ per job; a job of 4 nodes does not fit/,
        );
        assert.match(all, /lower resources\.nodes/);
      }
    }
  },
});
