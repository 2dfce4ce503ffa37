/**
 * `sealbatch remote check` against the real test site: every check passes
 * (host key, login, sbatch, the hidden partition, free space); failing checks
 * print FAIL with what to do, the command exits non-zero with one error line.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli } from "../_helpers/cli.ts";
import { SITE_SKIP, siteEnv, siteFlags } from "./_site.ts";

const opts = { ignore: SITE_SKIP !== false, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "remote check: all five checks pass on the test site, also as JSON objects",
  ...opts,
  async fn() {
    const env = await siteEnv();
    const r = await runCli(["remote", "check", ...siteFlags(env), "--partition", "secure"]);
    assert.equal(r.code, 0, r.stderr);
    for (const check of ["host key", "login", "sbatch", "partition", "remote directory"]) {
      assert.match(r.stdout, new RegExp(`^ok {3}${check}: `, "m"));
    }
    assert.match(r.stdout, /SHA256:\S+/);
    assert.match(r.stdout, new RegExp(`logged in as ${env.SITE_USER}`));
    assert.match(r.stdout, /partition: secure exists/);
    const json = await runCli(["--json", "remote", "check", ...siteFlags(env)]);
    const parsed = JSON.parse(json.stdout) as {
      ok: boolean;
      checks: { check: string; ok: boolean; detail: string }[];
    };
    assert.equal(parsed.ok, true);
    assert.deepEqual(parsed.checks.map((c) => c.check), [
      "host key",
      "login",
      "sbatch",
      "partition",
      "remote directory",
    ]);
  },
});

Deno.test({
  name: "remote check: wrong Slurm path and partition fail with hints; unreachable host too",
  ...opts,
  async fn() {
    const env = await siteEnv();
    const r = await runCli([
      "remote",
      "check",
      ...siteFlags(env),
      "--partition",
      "nosuch",
      "--slurm-bin",
      "/opt/nowhere/bin",
    ]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stdout, /^ok {3}login: /m);
    assert.match(r.stdout, /^FAIL sbatch: \/opt\/nowhere\/bin\/sbatch not found/m);
    assert.match(r.stdout, /hint: give the Slurm programs' directory: --slurm-bin/);
    assert.match(
      r.stdout,
      // Slurm's own words: here scontrol itself is missing from that directory.
      /^FAIL partition: nosuch not visible: Slurm says: .*\/opt\/nowhere\/bin\/scontrol: No such file/m,
    );
    assert.match(r.stdout, /hint: ask the site for the secure partition's name/);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, /remote check: 2 of \d+ checks failed: sbatch, partition/);

    // Nothing listens on this port: the login check fails and says what to try.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const dead = (l.addr as Deno.NetAddr).port;
    l.close();
    const flags = siteFlags(env);
    flags[flags.indexOf("--port") + 1] = String(dead);
    const u = await runCli(["remote", "check", ...flags]);
    assert.equal(u.code, 6, u.stderr);
    assert.match(
      u.stdout,
      new RegExp(`^FAIL login: cannot connect to "${env.SITE_USER}@127\\.0\\.0\\.1:\\d+"`, "m"),
    );
    assert.match(u.stdout, new RegExp(`hint: .*ssh -p ${dead} ${env.SITE_USER}@127\\.0\\.0\\.1`));
    assertOneLineError(u.stderr);
  },
});
