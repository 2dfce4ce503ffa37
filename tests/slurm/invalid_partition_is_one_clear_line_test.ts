/**
 * sbatch refusing a partition is one clear line with the remote exit status,
 * from the library and from `sealbatch job submit`.
 */
import assert from "node:assert/strict";
import { SealbatchError } from "../../src/util/errors.ts";
import { submit } from "../../src/slurm/slurm.ts";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { siteEnv, siteFlags } from "../remote/_site.ts";
import { SITE_SKIP, slurmSite } from "./_slurm.ts";

Deno.test({
  name: "an invalid partition is one clear error line, exit status 6",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("partition");
    const script = await s.script("job.sh", "true");
    const err = await submit(s.shell, { ...s.slurm, partition: "nonesuch" }, script).then(
      () => assert.fail("sbatch accepted an unknown partition"),
      (e) => e,
    );
    assert.ok(err instanceof SealbatchError);
    assert.equal(err.exitCode, 6);
    assert.match(
      err.message,
      /^cannot submit ".*job\.sh" to partition "nonesuch": Batch job submission failed: Invalid partition name specified$/,
    );
    assert.match(err.hint ?? "", /partition name/);

    await using tmp = await tempDir();
    const job = `${tmp.path}/job-partition`;
    await Deno.mkdir(job);
    await Deno.writeTextFile(`${job}/run.sh`, "#!/bin/bash\ntrue\n");
    await Deno.writeTextFile(`${job}/run.sh.sig`, "not checked before sbatch\n");
    const cli = await runCli([
      "job",
      "submit",
      job,
      ...siteFlags(await siteEnv()),
      "--remote-dir",
      s.dir,
      "--partition",
      "nonesuch",
    ]);
    assert.equal(cli.code, 6, cli.stderr);
    assert.equal(cli.stdout, "");
    assertOneLineError(cli.stderr);
    assert.match(cli.stderr, /partition "nonesuch": .*Invalid partition name specified/);
  },
});

Deno.test({
  name: "a malformed partition name is refused before anything runs remotely",
  async fn() {
    const local = { run: () => Promise.reject(new Error("must not run")), where: "nowhere" };
    const err = await submit(local, {
      partition: "secure; rm -rf ~",
      exclusive: true,
      programs: {},
      resources: {},
    }, "/x/run.sh").catch((e) => e);
    assert.ok(err instanceof SealbatchError);
    assert.equal(err.exitCode, 3);
    assert.match(err.message, /^invalid partition name "secure; rm -rf ~"$/);
  },
});
