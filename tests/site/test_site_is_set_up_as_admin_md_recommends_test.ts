/**
 * The test site exercises what docs/admin.md recommends, so that the tests run against a site
 * like the ones admins build: the secure node is in the hidden `secure` partition and no other,
 * whole nodes only (OverSubscribe=EXCLUSIVE), submission limited to a group (AllowGroups), a
 * Prolog and an Epilog. And the profile `test-site.sh env` prints is ready as it is.
 */
import assert from "node:assert/strict";
import { runCli } from "../_helpers/cli.ts";
import { SITE_SKIP, siteEnv } from "../remote/_site.ts";

async function out(cmd: string, args: string[]) {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return {
    ok: r.success,
    text: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr),
  };
}

const opts = { ignore: SITE_SKIP !== false, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name:
    "the test site's secure partition is hidden, exclusive, group-limited, its node in no other",
  ...opts,
  async fn() {
    const env = await siteEnv();
    const part = await out("scontrol", ["show", "partition", "-o"]);
    assert.ok(part.ok, part.text);
    const lines = part.text.trim().split("\n");
    assert.equal(lines.length, 1, `one partition only:\n${part.text}`);
    for (const want of ["PartitionName=secure", "Hidden=YES", "OverSubscribe=EXCLUSIVE"]) {
      assert.ok(lines[0]!.includes(want), `${want} in ${lines[0]}`);
    }
    assert.match(lines[0]!, new RegExp(`AllowGroups=${env.SITE_GROUP}\\b`));
    const node = await out("scontrol", ["show", "node", env.SITE_NODE!, "-o"]);
    assert.match(node.text, /Partitions=secure(\s|$)/);
    const config = await out("scontrol", ["show", "config"]);
    assert.match(config.text, /^Prolog\s+= \S+prolog\.sh$/m);
    assert.match(config.text, /^Epilog\s+= \S+epilog\.sh$/m);
    // An account outside the group is refused at submission.
    const other = await out("runuser", [
      "-u",
      "nobody",
      "--",
      "env",
      `SLURM_CONF=${env.SITE_SLURM_CONF}`,
      "sbatch",
      "-p",
      "secure",
      "--wrap",
      "true",
    ]);
    assert.equal(other.ok, false, other.text);
    assert.match(
      other.text,
      /not permitted to use this partition|Invalid account or account\/partition/i,
    );
  },
});

Deno.test({
  name: "the profile test-site.sh env prints passes site check as it is (sign key, Vault, token)",
  ...opts,
  async fn() {
    const env = await siteEnv();
    const r = await runCli(["site", "check", env.SITE_PROFILE!]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ok +signing key: /m);
    assert.match(r.stdout, /^ok +vault token: valid/m);
    assert.doesNotMatch(r.stdout, /^FAIL/m);
  },
});
