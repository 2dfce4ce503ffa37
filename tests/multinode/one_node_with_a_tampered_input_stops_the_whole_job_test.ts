/**
 * The shared file system's admin serves node 1 of a 3-node job other bytes of input.img than the
 * other nodes see (a bind mount in node 1's own mount namespace, as a file server could). Node 1's
 * hash check refuses its copy; that refusal stops the whole job with the refusal's exit code
 * before the command runs on any node, and no node keeps a key or a plaintext byte.
 */
import assert from "node:assert/strict";
import { EXIT_CODES } from "../../src/util/errors.ts";
import { remote } from "../run/_fixture.ts";
import { leftOnNodes, onNode, SITE_SKIP } from "./_cluster.ts";
import {
  nodesThatRan,
  remoteJobDir,
  runHeld,
  sealedProject,
  slurmExitCode,
  slurmLog,
} from "./_sealed.ts";

Deno.test({
  name: "one node whose copy of the input differs refuses, and no node of the job runs the command",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await sealedProject({ held: true });
    let mounted = "";
    try {
      const r = await runHeld(p, async (_id, job) => {
        const dir = remoteJobDir(p, job);
        const evil = `${p.site.SITE_REMOTE_DIR}/tampered-${job}.img`;
        // The same file with its last byte changed, owned by the job user like the real one.
        await remote(
          p.site,
          `cp ${dir}/input.img ${evil} && printf x | ` +
            `dd of=${evil} bs=1 seek=$(($(stat -c %s ${evil}) - 1)) conv=notrunc status=none`,
        );
        const bind = await onNode(p.site, 1, ["mount", "--bind", evil, `${dir}/input.img`]);
        assert.equal(bind.code, 0, bind.stderr);
        mounted = `${dir}/input.img`;
      });
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /ended FAILED without a receipt/);
      assert.match(r.stderr, /node 1 could not open the input: a check on the node refused/);
      assert.equal(await slurmExitCode(p, r.slurmId), `${EXIT_CODES.refused}:0`);
      assert.deepEqual(await nodesThatRan(p, r.slurmId), [], "the command ran on no node");
      const log = await slurmLog(p, r.job);
      assert.doesNotMatch(log, /job started|all \d nodes ready/);
      assert.match(
        log,
        /^sealbatch: node 1: error: input "input.img" .* differs from what was sealed/m,
      );
      assert.deepEqual(await leftOnNodes(p.site, r.slurmId), []);
    } finally {
      if (mounted) await onNode(p.site, 1, ["umount", mounted]);
      await remote(p.site, `rm -f ${p.site.SITE_REMOTE_DIR}/tampered-*.img`);
    }
  },
});
