/**
 * Finding 1 on the real test site: an input larger than the node's work_dir
 * (a tmpfs) ends with what happened, not with "the command exited with
 * status 1": the node could not open the input, no space, the command never
 * ran; the fixed progress lines of the Slurm log are shown. A profile that
 * states the work_dir's size makes run warn before anything is uploaded.
 */
import assert from "node:assert/strict";
import { availableBytes } from "../../src/luks/workdir.ts";
import { kvPathFor } from "../../src/kms/escrow.ts";
import { E2E_SKIP, jobIdOf, makeProject, runIn } from "./_fixture.ts";

const MiB = 1024 * 1024;

Deno.test({
  name: "an input larger than the node's work_dir: the node could not open it, no space, " +
    "the command never ran",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject({ command: "touch {output}/ran" });
    // The node is this machine: its work_dir as the node config names it.
    const workDir = p.site.SITE_WORK_DIR ?? "/run/sealbatch";
    const free = await availableBytes(workDir);
    assert.ok(free > 0 && free < 1024 * MiB, `unexpected free space in ${workDir}: ${free}`);
    // Random bytes do not compress: the container is as large as the data.
    const data = new Uint8Array(64 * 1024);
    const file = await Deno.open(`${p.dir}/input/scan.raw`, { write: true, create: true });
    for (let n = 0; n < free + 32 * MiB; n += data.length) {
      crypto.getRandomValues(data);
      await file.write(data);
    }
    file.close();
    const text = await Deno.readTextFile(p.profile);
    await Deno.writeTextFile(
      p.profile,
      text.replace("node:\n", `node:\n  work_dir_size: ${Math.floor(free / MiB)}M\n`),
    );

    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /warning: input\.img \(\d+ MiB\) will not fit the node's work_dir/);
    assert.match(
      r.stderr,
      /FAILED: the node could not open the input: no space left in the node's work directory \(no-space\); your command never ran/,
    );
    assert.match(r.stderr, /^sealbatch: keys fetched$/m);
    assert.match(r.stderr, /^sealbatch-node: failed: open-input: no-space$/m);
    assert.doesNotMatch(r.stderr, /command exited with status/);
    // The job has ended: its key is gone from Vault all the same.
    const vault = await p.client();
    const path = kvPathFor("job-scoped", p.site.SITE_USER!, jobIdOf(r.stderr), "luks");
    assert.equal(await vault.kvRead("secret", path), null);
  },
});
