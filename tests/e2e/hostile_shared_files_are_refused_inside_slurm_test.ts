/**
 * The shared file system played by its admin, against the real node side
 * (Slurm -> run.sh -> /usr/bin/decrypt_and_execute -> sudo -> root): the job
 * is uploaded held (sbatch --hold), the attack is made on the site while it
 * waits, and then it is released. A symlinked input and a replayed job (as is,
 * and renamed into a new job directory) each FAIL with the refusal status 4
 * and one error line in the Slurm log; the job's command never runs.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { joinRemote, sh } from "../../src/remote/quote.ts";
import { sshShell } from "../../src/slurm/shell.ts";
import { submitJob } from "../../src/slurm/submit_job.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { connection, SITE_SKIP, type SiteEnv, siteEnv, slurmSettings } from "../remote/_site.ts";

interface Sealed {
  name: string;
  dir: string;
}

/** A sealed job with one input; its command leaves `ran` in the job directory. */
async function sealJob(env: SiteEnv, tmp: string, prefix: string): Promise<Sealed> {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${tmp}/${name}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/data.img`, "sealed input bytes\n", { mode: 0o600 });
  await Deno.writeTextFile(`${tmp}/${name}.sh`, "#!/bin/bash\necho ran > ran\n");
  const sealed = await runCli([
    "job",
    "seal",
    "--command",
    `${tmp}/${name}.sh`,
    "--node-key",
    env.SITE_NODE_PUBKEY!,
    "--sign-key",
    env.SITE_USER_SECKEY!,
    "--user",
    env.SITE_USER!,
    "--expires",
    "1h",
    "--input",
    `${dir}/data.img`,
    "--out",
    dir,
  ]);
  assert.equal(sealed.code, 0, sealed.stderr);
  return { name, dir };
}

async function wait(env: SiteEnv, id: string) {
  return await runCli(["job", "wait", id, "--interval", "1s", "--site", env.SITE_PROFILE!]);
}

Deno.test({
  name: "inside Slurm, an input swapped for a symlink while the job is held is refused (exit 4)",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir("sealbatch-e2e-hostile");
    const job = await sealJob(env, tmp.path, "e2e-symlink");
    await using site = await RemoteSite.connect(connection(env));
    const remote = joinRemote(env.SITE_REMOTE_DIR!, "jobs", job.name);
    try {
      const hold = slurmSettings({ resources: { extraArgs: ["--hold"] } });
      const held = await submitJob(site, hold, { dir: job.dir });
      // The admin's move: the input becomes a link to a system secret.
      await site.login.exec(
        `cd ${
          sh(remote)
        } && rm data.img && ln -s /etc/shadow data.img && scontrol release ${held.jobId}`,
      );
      const waited = await wait(env, held.jobId);
      assert.match(waited.stderr, /ended FAILED \(failed, exit code 4:0\)/, waited.stderr);
      const log = await site.login.exec(`cat ${sh(remote)}/slurm-${held.jobId}.out`);
      assert.match(
        log.stdout,
        /^sealbatch: error: input "data\.img" of job .* is refused: a symbolic link$/m,
      );
      assert.equal((await site.login.exec(`test -e ${sh(remote)}/ran`)).code, 1, "the job ran");
    } finally {
      await site.login.exec(`rm -rf -- ${sh(remote)}`);
    }
  },
});

Deno.test({
  name:
    "inside Slurm, a job run again, as is or renamed into a new job directory, is a replay (exit 4)",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir("sealbatch-e2e-hostile");
    const job = await sealJob(env, tmp.path, "e2e-replay");
    await using site = await RemoteSite.connect(connection(env));
    const remote = joinRemote(env.SITE_REMOTE_DIR!, "jobs", job.name);
    const renamed = `${remote}-renamed`;
    try {
      const first = await submitJob(site, slurmSettings(), { dir: job.dir });
      assert.equal((await wait(env, first.jobId)).code, 0);
      assert.equal((await site.login.exec(`cat ${sh(remote)}/ran`)).stdout, "ran\n");
      await site.login.exec(`rm ${sh(remote)}/ran`);

      // Someone with the shared file system submits the signed files again, twice.
      const sbatch = async (dir: string) =>
        (await sshShell(site.login).run(
          `cd ${sh(dir)} && sbatch --parsable -p secure --exclusive -o slurm-%j.out run.sh`,
        )).stdout.trim();
      await site.login.exec(
        `mkdir -m 0700 ${sh(renamed)} && cp -p ${sh(remote)}/run.sh ${sh(remote)}/run.sh.sig ` +
          `${sh(remote)}/data.img ${sh(renamed)}/`,
      );
      for (const dir of [remote, renamed]) {
        const id = await sbatch(dir);
        const waited = await wait(env, id);
        assert.match(waited.stderr, /ended FAILED \(failed, exit code 4:0\)/, waited.stderr);
        const log = await site.login.exec(`cat ${sh(dir)}/slurm-${id}.out`);
        assert.match(
          log.stdout,
          /^sealbatch: error: job .* was already run on this node .*: replay$/m,
        );
        assert.equal(
          (await site.login.exec(`test -e ${sh(dir)}/ran`)).code,
          1,
          "the job ran again",
        );
      }
    } finally {
      await site.login.exec(`rm -rf -- ${sh(remote)} ${sh(renamed)}`);
    }
  },
});
