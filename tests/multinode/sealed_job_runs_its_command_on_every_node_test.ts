/**
 * A sealed job of 3 nodes on the multi-node test cluster: every node verifies, decrypts and
 * fetches its own keys, and the command runs as one Slurm step over the allocation, 2 tasks per
 * node, each summing its share of the input and writing its part of the result into its node's
 * output container. With outputs_from: all, every node's results come back, each verified
 * against the receipt, which names every node.
 */
import assert from "node:assert/strict";
import { makeProject, runIn } from "../run/_fixture.ts";
import { CLUSTER_NODES, leftOnNodes, nodeNames, SITE_SKIP } from "./_cluster.ts";
import { finishedRun } from "./_sealed.ts";

const LINES = 3000;
// Each task sums the lines that are its share: line L belongs to task L mod NTASKS.
const SUM = 'NR % n == p { s += $1 } END { print p, ENVIRON["SLURM_NODEID"], s }\n';
const COMMAND = 'awk -v n="$SLURM_NTASKS" -v p="$SLURM_PROCID" -f {input}/sum.awk ' +
  "{input}/numbers.txt >{output}/part-$SLURM_PROCID.txt";

Deno.test({
  name: "a sealed job of 3 nodes runs its command on every node and brings every node's part back",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject({
      nodes: CLUSTER_NODES,
      command: COMMAND,
      specExtra: `  nodes: ${CLUSTER_NODES}\n  tasks_per_node: 2\noutputs_from: all\n`,
    });
    const numbers = Array.from({ length: LINES }, (_, i) => (i * 7919) % 1000);
    await Deno.writeTextFile(`${p.dir}/input/numbers.txt`, numbers.join("\n") + "\n");
    await Deno.writeTextFile(`${p.dir}/input/sum.awk`, SUM);
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
    assert.equal(r.code, 0, `run failed:\n${r.stderr}\n${r.stdout}`);

    const tasks = CLUSTER_NODES * 2;
    let total = 0;
    for (let node = 0; node < CLUSTER_NODES; node++) {
      for (const task of [2 * node, 2 * node + 1]) {
        const text = await Deno.readTextFile(`${p.dir}/results/node-${node}/part-${task}.txt`);
        const [procid, nodeid, sum] = text.trim().split(" ");
        assert.equal(procid, String(task));
        assert.equal(nodeid, String(node), `task ${task} ran on node ${node}`);
        const want = numbers.filter((_, i) => (i + 1) % tasks === task).reduce((a, b) => a + b, 0);
        assert.equal(Number(sum), want, `task ${task}'s part`);
        total += Number(sum);
      }
    }
    assert.equal(total, numbers.reduce((a, b) => a + b, 0));

    // The receipt names every node, each with the results container `run` fetched and verified.
    const { job, id, receipt } = await finishedRun(p, r.stderr);
    assert.deepEqual(receipt.nodes?.map((n) => n.host), nodeNames(p.site));
    assert.deepEqual(receipt.nodes?.map((n) => n.results?.path), [
      "output.results.img",
      "output.results.node-1.img",
      "output.results.node-2.img",
    ]);
    assert.match(r.stdout, /receipt: signed by the node/);
    // job show: every node of the receipt, and what the log says each node did.
    const show = await runIn(p, ["job", "show", job]);
    assert.equal(show.code, 0, show.stderr);
    const hosts = nodeNames(p.site);
    assert.match(
      show.stdout,
      new RegExp(`node 2 ${hosts[2]}: output\\.results\\.node-2\\.img sha256 [0-9a-f]{64}`),
    );
    for (let i = 0; i < CLUSTER_NODES; i++) {
      assert.match(
        show.stdout,
        new RegExp(
          `^node ${i} +verified, keys fetched, data opened, node ready, job ended with status 0, results sealed, keys wiped$`,
          "m",
        ),
      );
    }
    assert.match(show.stdout, /^log +starting on 3 nodes: .*, job started, receipt written/m);
    assert.deepEqual(await leftOnNodes(p.site, id), [], "no node keeps a key or plaintext byte");
  },
});
