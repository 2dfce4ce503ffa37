/**
 * The multi-node test cluster is a real one: a signed batch script of the secure partition asks
 * for 3 nodes, and `srun` inside it runs one task on each, every node with its own host name,
 * address and node-local work directory (a tmpfs no other node sees).
 */
import assert from "node:assert/strict";
import { sh } from "../../src/remote/quote.ts";
import { partitionNodes, submit } from "../../src/slurm/slurm.ts";
import { waitForJob } from "../../src/slurm/watch.ts";
import { cluster, CLUSTER_NODES, nodeNames, onNode, SITE_SKIP } from "./_cluster.ts";

Deno.test({
  name: "srun -N 3 in a signed secure-partition job runs on 3 nodes, each with its own work dir",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await cluster("srun-nodes");
    const nodes = nodeNames(s.env);
    assert.equal(nodes.length, CLUSTER_NODES);
    // What `site check` reports: the partition holds every node, none is withheld from one job.
    assert.deepEqual(await partitionNodes(s.shell, s.slurm), {
      total: CLUSTER_NODES,
      max: "UNLIMITED",
    });
    const work = s.env.SITE_WORK_DIR!;
    const script = await s.script(
      "job.sh",
      [
        `srun --ntasks-per-node=1 bash -c ${
          sh(
            `echo "$SLURM_NODEID $(hostname) $(hostname -I | tr -d ' ') $(stat -f -c %T ${work})"`,
          )
        } | sort`,
      ].join("\n"),
    );
    const slurm = { ...s.slurm, resources: { extraArgs: [`--nodes=${CLUSTER_NODES}`] } };
    const id = await submit(s.shell, slurm, script, { cwd: s.dir, output: `${s.dir}/out-%j.log` });
    const done = await waitForJob(s.shell, s.slurm, id, {
      intervalMs: 250,
      maxIntervalMs: 500,
      timeoutMs: 180_000,
    });
    const log = await s.read(`${s.dir}/out-${id}.log`);
    assert.equal(done.state, "COMPLETED", log);
    const lines = log.trim().split("\n").map((l) => l.split(" "));
    assert.equal(lines.length, CLUSTER_NODES, log);
    const addrs = new Set<string>();
    lines.forEach(([index, host, addr, fs], i) => {
      assert.equal(index, String(i));
      assert.equal(host, nodes[i], "each task runs on its own node (its own host name)");
      assert.match(addr!, /^10\.254\.\d+\.\d+$/);
      addrs.add(addr!);
      assert.equal(fs, "tmpfs", "the work dir is node-local memory");
    });
    assert.equal(addrs.size, CLUSTER_NODES, "every node has its own address");

    // A file in node 1's work dir is seen on node 1 only (each node's own mount namespace).
    const probe = `${work}/probe-${id}`;
    assert.equal((await onNode(s.env, 1, ["touch", probe])).code, 0);
    try {
      const seen = [];
      for (let i = 0; i < CLUSTER_NODES; i++) {
        seen.push((await onNode(s.env, i, ["test", "-e", probe])).code === 0);
      }
      assert.deepEqual(seen, [false, true, false], "only node 1 sees node 1's work dir");
    } finally {
      await onNode(s.env, 1, ["rm", "-f", probe]);
    }
  },
});
