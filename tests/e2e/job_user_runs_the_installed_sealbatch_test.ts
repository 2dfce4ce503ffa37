/**
 * Inside a Slurm job, as the job user, `sealbatch` is the installed single
 * file (scripts/test-site.sh): the same version as this checkout, with the
 * node commands the decrypted job script calls.
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { dirname } from "node:path";
import { submit } from "../../src/slurm/slurm.ts";
import { waitForJob } from "../../src/slurm/watch.ts";
import { SITE_SKIP, slurmSite } from "../slurm/_slurm.ts";

Deno.test({
  name: "a job user runs the installed sealbatch and its node commands inside Slurm",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("installed");
    const script = await s.script(
      "job.sh",
      [
        "set -e",
        `PATH=${dirname(s.env.SITE_SEALBATCH!)}:$PATH`,
        "command -v sealbatch",
        "id -un",
        "sealbatch --version",
        "for c in fetch-keys data run-image; do sealbatch node $c --help | head -n 1; done",
      ].join("\n"),
    );
    const out = `${s.dir}/out.log`;
    const id = await submit(s.shell, s.slurm, script, { cwd: s.dir, output: out });
    const r = await waitForJob(s.shell, s.slurm, id, { intervalMs: 250, maxIntervalMs: 1000 });
    const log = await s.read(out);
    assert.equal(r.state, "COMPLETED", log);
    const [path, user, version, ...usage] = log.trim().split("\n");
    assert.equal(path, s.env.SITE_SEALBATCH);
    assert.equal(user, s.env.SITE_USER);
    assert.equal(version?.split(" ")[0], denoJson.version);
    assert.deepEqual(
      usage.map((l) => /^Usage: sealbatch node ([a-z-]+) /.exec(l)?.[1]),
      ["fetch-keys", "data", "run-image"],
    );
  },
});
