/**
 * The whole path on the real test site, through the CLI as users run it:
 * `job seal` -> `job submit --site` -> Slurm runs run.sh in the hidden secure
 * partition, where /usr/bin/decrypt_and_execute goes through sudo to root,
 * verifies, decrypts and drops to the job user -> `job wait` -> `job fetch`.
 * The Slurm log on the shared file system never holds the script's text.
 * A job signed by a key not registered for the account is refused inside
 * Slurm: it FAILs and its command never runs.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { joinRemote, sh } from "../../src/remote/quote.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { connection, SITE_SKIP, type SiteEnv, siteEnv } from "../remote/_site.ts";
import { type Job, sealJob } from "./_sealed_job.ts";

async function submit(env: SiteEnv, job: Job): Promise<string> {
  const out = await runCli(["job", "submit", job.dir, "--site", env.SITE_PROFILE!]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout.trim(), /^\d+$/);
  return out.stdout.trim();
}

async function removeRemote(env: SiteEnv, job: Job): Promise<void> {
  await using site = await RemoteSite.connect(connection(env));
  await site.login.exec(`rm -rf -- ${sh(joinRemote(env.SITE_REMOTE_DIR!, "jobs", job.name))}`);
}

Deno.test({
  name: "seal, submit, decrypt_and_execute inside Slurm as the job user, wait, fetch",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir("sealbatch-e2e");
    const job = await sealJob(env, tmp.path, env.SITE_USER_SECKEY!, "e2e");
    try {
      const id = await submit(env, job);
      const site = ["--site", env.SITE_PROFILE!];
      const waited = await runCli(["job", "wait", id, "--interval", "1s", ...site]);
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(waited.stdout.trim(), `${id} COMPLETED`);

      const out = `${tmp.path}/fetched`;
      const fetched = await runCli(["job", "fetch", id, "--out", out, ...site]);
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(await Deno.readTextFile(`${out}/output/hello.txt`), "hello-from-node\n");
      // Root started it; the command ran as the job's user.
      assert.equal(await Deno.readTextFile(`${out}/output/whoami.txt`), `${env.SITE_USER}\n`);

      const log = await Deno.readTextFile(`${out}/slurm-${id}.out`);
      assert.ok(!log.includes(job.marker), `the script's text is in the Slurm log:\n${log}`);
      assert.ok(!log.includes("echo hello-from-node"), log);
      assert.ok(!log.includes("hello-from-node"), log);
    } finally {
      await removeRemote(env, job);
    }
  },
});

async function foreignJob(env: SiteEnv, tmp: string, prefix: string): Promise<Job> {
  const keygen = await runCli([
    "keygen",
    "--kind",
    "user",
    "--name",
    "mallory",
    "--email",
    "mallory@example.org",
    "--out",
    `${tmp}/keys`,
  ]);
  assert.equal(keygen.code, 0, keygen.stderr);
  return await sealJob(env, tmp, `${tmp}/keys/mallory.sec.asc`, prefix);
}

Deno.test({
  name: "a job signed by a foreign key is stopped by the site's Prolog before any line runs",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir("sealbatch-e2e");
    const job = await foreignJob(env, tmp.path, "e2e-foreign");
    try {
      const id = await submit(env, job);
      const waited = await runCli([
        "job",
        "wait",
        id,
        "--interval",
        "1s",
        "--site",
        env.SITE_PROFILE!,
      ]);
      assert.equal(waited.code, 12, waited.stderr);
      const prolog = await Deno.readTextFile(`${env.SITE_LOG_DIR}/prolog.log`);
      assert.match(prolog, new RegExp(`job ${id} of ${env.SITE_USER} refused: bad signature`));
    } finally {
      await removeRemote(env, job);
    }
  },
});

Deno.test({
  name: "a job signed by a foreign key is refused by the node too: FAILED, nothing executed",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir("sealbatch-e2e");
    // The test site's hook: its Prolog lets this one through, to the node's own check.
    const job = await foreignJob(env, tmp.path, "sealbatch-test-no-prolog-foreign");
    try {
      const id = await submit(env, job);
      const site = ["--site", env.SITE_PROFILE!];
      const waited = await runCli(["job", "wait", id, "--interval", "1s", ...site]);
      assert.equal(waited.code, 8, waited.stderr);
      assert.equal(waited.stdout.trim(), `${id} FAILED`);
      // decrypt_and_execute's refusal status (4) is the job's exit code.
      assert.match(waited.stderr, /ended FAILED \(failed, exit code 4:0\)/);

      const out = `${tmp.path}/fetched`;
      const fetched = await runCli(["job", "fetch", id, "--out", out, ...site]);
      assert.equal(fetched.code, 0, fetched.stderr);
      const log = await Deno.readTextFile(`${out}/slurm-${id}.out`);
      assert.match(log, /sealbatch: error: .*sign/i);
      assert.ok(!log.includes(job.marker), log);
      await assert.rejects(Deno.stat(`${out}/output`), Deno.errors.NotFound);
    } finally {
      await removeRemote(env, job);
    }
  },
});
