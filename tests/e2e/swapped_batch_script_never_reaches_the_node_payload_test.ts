/**
 * Someone who controls the shared file system swaps run.sh for a version with
 * extra lines just before sbatch reads it, then puts the signed file back.
 * Slurm runs its stored (tampered) copy. Two lines of defence, each pinned:
 * the site's Prolog (docs/admin.md) checks Slurm's copy against the owner's
 * signature and stops the job before any of its lines run; and the node itself
 * checks that copy, not the file on shared storage, and refuses before
 * anything is decrypted (reached here through the test site's job-name hook
 * that skips its Prolog; the injected lines then run as the job user before
 * the node is called: they see no keys and no plaintext).
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { SITE_SKIP, siteEnv } from "../remote/_site.ts";
import { sealJob } from "./_sealed_job.ts";

async function asSiteUser(user: string, cwd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("runuser", {
    args: ["-u", user, "--", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${args.join(" ")}: ${err}`);
  return new TextDecoder().decode(out.stdout).trim();
}

interface Swapped {
  env: Record<string, string>;
  jobDir: string;
  id: string;
  waited: { code: number; stdout: string; stderr: string };
}

/** Seal a job, submit a swapped run.sh under `name`, restore the signed file, wait. */
async function submitSwapped(name: string, check: (s: Swapped) => Promise<void>) {
  const env = await siteEnv();
  const user = env.SITE_USER!;
  await using tmp = await tempDir("sealbatch-e2e-swap");
  const sealed = (await sealJob(env, tmp.path, env.SITE_USER_SECKEY!, "swap")).dir;

  const jobDir = `${env.SITE_REMOTE_DIR}/jobs/swap-${crypto.randomUUID().slice(0, 8)}`;
  await asSiteUser(user, "/", ["mkdir", "-p", jobDir]);
  try {
    const signed = await Deno.readTextFile(`${sealed}/run.sh`);
    await Deno.copyFile(`${sealed}/run.sh.sig`, `${jobDir}/run.sh.sig`);
    // The tampered copy: the signed script with one line added after the shebang.
    const tampered = signed.replace("\n", `\necho injected > ${jobDir}/injected.txt\n`);
    await Deno.writeTextFile(`${jobDir}/run.sh`, tampered);
    await new Deno.Command("chown", { args: ["-R", `${user}:`, jobDir] }).output();
    const id = await asSiteUser(user, jobDir, [
      "sbatch",
      "--parsable",
      "--hold",
      "-J",
      name,
      "-p",
      "secure",
      "--exclusive",
      "-o",
      `${jobDir}/slurm-%j.out`,
      "run.sh",
    ]);
    // Put the signed file back before the job is released.
    await Deno.writeTextFile(`${jobDir}/run.sh`, signed);
    await new Deno.Command("scontrol", { args: ["release", id] }).output();
    const waited = await runCli([
      "job",
      "wait",
      id,
      "--interval",
      "1s",
      "--site",
      env.SITE_PROFILE!,
    ]);
    await check({ env, jobDir, id, waited });
  } finally {
    await Deno.remove(jobDir, { recursive: true }).catch(() => {});
  }
}

const opts = { ignore: SITE_SKIP !== false, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "the site's Prolog stops a run.sh swapped before sbatch: none of its lines run",
  ...opts,
  async fn() {
    await submitSwapped("swapped", async ({ env, jobDir, id, waited }) => {
      assert.equal(waited.code, 12, `${waited.stdout}\n${waited.stderr}`);
      await assert.rejects(Deno.stat(`${jobDir}/injected.txt`), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(`${jobDir}/output`), Deno.errors.NotFound);
      const log = await Deno.readTextFile(`${env.SITE_LOG_DIR}/prolog.log`);
      assert.match(log, new RegExp(`job ${id} of ${env.SITE_USER} refused: bad signature`));
    });
  },
});

Deno.test({
  name: "without the Prolog the node refuses the swapped run.sh before anything is decrypted",
  ...opts,
  async fn() {
    await submitSwapped("sealbatch-test-no-prolog-swap", async ({ jobDir, id, waited }) => {
      assert.equal(waited.code, 8, `${waited.stdout}\n${waited.stderr}`);
      const log = await Deno.readTextFile(`${jobDir}/slurm-${id}.out`);
      assert.match(log, /sealbatch: error: .*signature/i, log);
      // The swap happened (its line ran), but the payload was never decrypted or run.
      assert.equal(await Deno.readTextFile(`${jobDir}/injected.txt`), "injected\n");
      await assert.rejects(Deno.stat(`${jobDir}/output`), Deno.errors.NotFound);
    });
  },
});
