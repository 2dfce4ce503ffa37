/**
 * A sealed job of 2 nodes (of the cluster's 3) with the default outputs_from: first. The command
 * runs on both nodes; only node 0's results are sealed and come back, node 1's are discarded on
 * node 1 (no container of it reaches the shared side). The receipt, verified by `sealbatch run`,
 * names both nodes in Slurm's order, and neither node keeps anything in its work dir.
 */
import assert from "node:assert/strict";
import { leftOnNodes, nodeNames, SITE_SKIP } from "./_cluster.ts";
import { finishedRun, nodesThatRan, sealedProject } from "./_sealed.ts";
import { remote, runIn } from "../run/_fixture.ts";

Deno.test({
  name: "a job of 2 nodes runs on both and keeps the first node's outputs; the receipt names both",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await sealedProject({ nodes: 2 });
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
    assert.equal(r.code, 0, `run failed:\n${r.stderr}\n${r.stdout}`);
    const { dir, id, receipt } = await finishedRun(p, r.stderr);

    assert.deepEqual(await nodesThatRan(p, id), [`ran-${id}-0`, `ran-${id}-1`]);
    // The first node's outputs, where a one-node job puts them.
    assert.deepEqual(
      await Deno.readFile(`${p.dir}/results/shepp_logan.hdr`),
      await Deno.readFile(`${p.dir}/input/shepp_logan.hdr`),
    );
    await assert.rejects(Deno.stat(`${p.dir}/results/node-1`));
    assert.doesNotMatch(
      await remote(p.site, `ls ${dir}`),
      /node-1/,
      "node 1's results stay on node 1",
    );

    const hosts = nodeNames(p.site).slice(0, 2);
    assert.deepEqual(receipt.nodes?.map((n) => n.host), hosts);
    assert.equal(receipt.nodes?.[0]?.results?.sha256, receipt.results?.sha256);
    assert.equal(receipt.nodes?.[1]?.results, null);
    assert.match(r.stdout, /receipt: signed by the node/);
    assert.deepEqual(await leftOnNodes(p.site, id), []);
  },
});
