/**
 * Somebody unwraps node 2's credential of a 3-node job before the job starts (a copy of run.sh's
 * credentials, intercepted). When the job runs, node 2 finds its credential spent: the
 * interception alarm, in the Slurm log and in what `sealbatch run` says, with the hint to revoke.
 * The other nodes fetched theirs, but the command runs on none, and no node keeps a key.
 */
import assert from "node:assert/strict";
import { leftOnNodes, SITE_SKIP } from "./_cluster.ts";
import { nodesThatRan, runHeld, sealedProject, slurmExitCode, slurmLog } from "./_sealed.ts";
import { EXIT_CODES } from "../../src/util/errors.ts";

Deno.test({
  name: "a credential spent early on one node of a job raises the alarm; the command runs nowhere",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await sealedProject({ held: true });
    const r = await runHeld(p, async (_id, job) => {
      const record = JSON.parse(
        await Deno.readTextFile(`${p.dir}/.sealbatch/jobs/${job}/keys.json`),
      ) as { keys: { name: string; node?: number; token: string }[] };
      const stolen = record.keys.find((k) => k.name === "luks" && k.node === 2);
      assert.ok(stolen, "one credential per node and key");
      const vault = await p.client();
      assert.ok((await vault.unwrap(stolen.token)).data, "the thief got the key");
    });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(
      r.stderr,
      /node 2 could not fetch the job's keys: a credential of the job was already used \(possible interception\) \(credential-used\)/,
    );
    assert.match(r.stderr, /revoke the keys/);
    // The job ends with the interception exit code of the node that raised the alarm.
    assert.equal(await slurmExitCode(p, r.slurmId), `${EXIT_CODES.intercepted}:0`);
    const log = await slurmLog(p, r.job);
    assert.match(log, /^sealbatch-node: failed: fetch-keys: credential-used \(node 2\)$/m);
    assert.match(
      log,
      /^sealbatch: node 2: error: credential for key "luks" of node 2 of job .*possible interception/m,
    );
    assert.deepEqual(await nodesThatRan(p, r.slurmId), [], "the command ran on no node");
    assert.deepEqual(await leftOnNodes(p.site, r.slurmId), []);
  },
});
