/**
 * `scancel` of a 3-node job while its command runs on every node: Slurm signals every step, and
 * every node's part wipes its keys and plaintext itself before the job is gone (the Epilog finds
 * nothing of it); no receipt is written for a job that did not finish.
 */
import assert from "node:assert/strict";
import { remote, runIn } from "../run/_fixture.ts";
import { CLUSTER_NODES, leftOnNodes, SITE_SKIP } from "./_cluster.ts";
import { liveSlurmId, nodesThatRan, remoteJobDir, sealedProject } from "./_sealed.ts";

Deno.test({
  name: "a job of 3 nodes cancelled while its command runs is wiped on every node",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await sealedProject({
      command: 'touch "$HOME/ran-$SLURM_JOB_ID-$SLURM_NODEID"; sleep 120',
    });
    let job = "";
    let id = "";
    let cancelling: Promise<void> | undefined;
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"], (line) => {
      job ||= /^job (\S+) on /.exec(line)?.[1] ?? "";
      if (cancelling === undefined && /^wait +Slurm: RUNNING/.test(line)) {
        cancelling = (async () => {
          id = await liveSlurmId(p, job);
          // Cancelled once the command runs on every node.
          for (let i = 0; i < 600 && (await nodesThatRan(p, id)).length < CLUSTER_NODES; i++) {
            await new Promise((done) => setTimeout(done, 100));
          }
          await remote(p.site, `scancel ${id}`);
        })();
      }
    });
    await cancelling;
    assert.equal(
      (await nodesThatRan(p, id)).length,
      CLUSTER_NODES,
      "the command ran on every node",
    );
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /CANCELLED/);
    // Gone from Slurm (no node still completing), then nothing of it is left on any node.
    for (
      let i = 0;
      i < 300 && (await remote(p.site, `squeue -a -h -j ${id} 2>/dev/null; true`)).trim();
      i++
    ) {
      await new Promise((done) => setTimeout(done, 100));
    }
    assert.deepEqual(await leftOnNodes(p.site, id), []);
    const listing = await remote(p.site, `ls ${remoteJobDir(p, job)}`);
    assert.doesNotMatch(listing, /receipt\.json/);
  },
});
