/**
 * Test sites share nothing (scripts/test-site.sh): a second checkout, cloned below a directory
 * other accounts cannot traverse (a 0700 home, as Debian makes them), brings up a site of its own,
 * with its own user, Slurm and node side, and runs a job there; the first checkout's site keeps
 * working throughout (its key still logs in, its Slurm still runs jobs), and `down` plus deleting
 * the second checkout leave nothing of it running.
 */
import assert from "node:assert/strict";
import { ROOT, tempDir } from "../_helpers/cli.ts";
import { SITE_SKIP, type SiteEnv, siteEnv } from "../remote/_site.ts";

async function sh(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  return { ok: out.success, text, err };
}

function parseEnv(text: string): SiteEnv {
  return Object.fromEntries(
    text.split("\n").map((l) => l.match(/^([A-Z_]+)=(.*)$/)).filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/** The site's own key logs in to its sshd, and its own Slurm cluster answers there. */
async function siteAnswers(env: SiteEnv): Promise<void> {
  const r = await sh([
    "ssh",
    "-i",
    env.SITE_IDENTITY!,
    "-o",
    `UserKnownHostsFile=${env.SITE_KNOWN_HOSTS}`,
    "-o",
    "BatchMode=yes",
    "-p",
    env.SITE_PORT!,
    `${env.SITE_USER}@127.0.0.1`,
    "sinfo -a -h -o %P; scontrol show config | grep -E '^ClusterName'",
  ]);
  assert.ok(r.ok, `${env.SITE_USER}: ${r.err}`);
  assert.match(r.text, /^secure$/m);
  assert.match(r.text, new RegExp(`ClusterName += sb${env.SITE_USER!.slice(3)}`));
}

Deno.test({
  name: "a second checkout below a 0700 directory runs its own site; the first keeps working",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const first = await siteEnv();
    await using home = await tempDir("sealbatch-home");
    await Deno.chmod(home.path, 0o700);
    const clone = `${home.path}/sealbatch`;
    const c = await sh(["git", "clone", "-q", "--no-hardlinks", ROOT, clone]);
    assert.ok(c.ok, c.err);
    // The working tree as it is now (the clone has the last commit only).
    const files = (await sh(["git", "-C", ROOT, "ls-files", "-m", "-o", "--exclude-standard"])).text
      .split("\n").filter((f) => f !== "");
    for (const f of files) {
      await Deno.mkdir(`${clone}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.copyFile(`${ROOT}/${f}`, `${clone}/${f}`).catch(() => {});
    }
    const deno = { DENO: Deno.execPath(), PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    const script = `${clone}/scripts/test-site.sh`;
    let second: SiteEnv = {};
    try {
      const up = await sh(["bash", script, "up"], deno);
      assert.ok(up.ok, up.err);
      second = parseEnv(up.text);
      assert.notEqual(second.SITE_USER, first.SITE_USER);
      assert.notEqual(second.SITE_SLURM_CONF, first.SITE_SLURM_CONF);
      assert.ok(!second.SITE_DIR!.startsWith(home.path), "site state lives outside the 0700 home");
      await siteAnswers(second);
      // The first site: the same key still logs in, its own Slurm answers.
      await siteAnswers(first);
      const check = await sh([`${second.SITE_DIR}/lib/sealbatch-node`, "node", "check"]);
      assert.ok(check.ok, check.text + check.err);
    } finally {
      await sh(["bash", script, "down"], deno);
    }
    const left = await sh(["pgrep", "-f", second.SITE_DIR!]);
    assert.equal(left.text.trim(), "", `daemons of the second site still run: ${left.text}`);
    // Deleted checkout: the first site's next `up` stops and removes what was left of it.
    await Deno.remove(clone, { recursive: true });
    const again = await sh(["bash", `${ROOT}/scripts/test-site.sh`, "up"], deno);
    assert.ok(again.ok, again.err);
    await assert.rejects(Deno.stat(second.SITE_DIR!), Deno.errors.NotFound);
    assert.equal((await sh(["id", second.SITE_USER!])).ok, false);
    await siteAnswers(first);
  },
});
