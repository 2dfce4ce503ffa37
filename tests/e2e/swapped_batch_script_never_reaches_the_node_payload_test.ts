/**
 * Someone who controls the shared file system swaps run.sh for a version with
 * extra lines just before sbatch reads it, then puts the signed file back.
 * Slurm runs its stored (tampered) copy; the node must check the signature
 * against that copy, not against the file on shared storage, and refuse
 * before anything is decrypted. (The injected lines themselves run as the job
 * user before the node is called: they see no keys and no plaintext.)
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { SITE_SKIP, siteEnv } from "../remote/_site.ts";

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

Deno.test({
  name: "a run.sh swapped before sbatch and restored after is refused inside Slurm",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    const user = env.SITE_USER!;
    await using tmp = await tempDir("sealbatch-e2e-swap");
    const command = `${tmp.path}/command.sh`;
    await Deno.writeTextFile(command, "#!/bin/bash\nmkdir -p output\necho ran > output/ran.txt\n");
    const sealed = `${tmp.path}/job`;
    const seal = await runCli([
      "job",
      "seal",
      "--command",
      command,
      "--node-key",
      env.SITE_NODE_PUBKEY!,
      "--sign-key",
      env.SITE_USER_SECKEY!,
      "--user",
      user,
      "--expires",
      "1h",
      "--out",
      sealed,
    ]);
    assert.equal(seal.code, 0, seal.stderr);

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
      assert.equal(waited.code, 8, `${waited.stdout}\n${waited.stderr}`);
      const log = await Deno.readTextFile(`${jobDir}/slurm-${id}.out`);
      assert.match(log, /sealbatch: error: .*signature/i, log);
      // The swap happened (its line ran), but the payload was never decrypted or run.
      assert.equal(await Deno.readTextFile(`${jobDir}/injected.txt`), "injected\n");
      await assert.rejects(Deno.stat(`${jobDir}/output`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(jobDir, { recursive: true }).catch(() => {});
    }
  },
});
