/**
 * `site check`, `remote check` and `run --dry-run` are one implementation
 * (src/remote/check.ts): the same names, hints, format and exit codes, and
 * read-only: a remote directory that does not exist yet is not created.
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { remote } from "../run/_fixture.ts";
import { makeProject, runIn } from "../run/_fixture.ts";
import { SITE_SKIP, siteFlags } from "./_site.ts";

Deno.test("an unreachable site: the same login line and exit code from both commands", async () => {
  await using dir = await tempDir();
  const gen = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-f", `${dir.path}/id`],
  }).output();
  assert.ok(gen.success);
  await Deno.writeTextFile(`${dir.path}/node.pub.asc`, "");
  await Deno.writeTextFile(
    `${dir.path}/site.yaml`,
    [
      "name: s",
      `ssh: { login: { host: 127.0.0.1, port: 9 }, user: u, identity: ${dir.path}/id }`,
      "remote: { base_dir: /scratch/u }",
      "vault: { addr: http://127.0.0.1:9 }",
      `node: { public_key: ${dir.path}/node.pub.asc }`,
    ].join("\n") + "\n",
  );
  const site = await runCli(["site", "check", `${dir.path}/site.yaml`]);
  const rem = await runCli(["remote", "check", "--site", `${dir.path}/site.yaml`]);
  assert.equal(site.code, 6, site.stderr);
  assert.equal(rem.code, 6, rem.stderr);
  const loginLine = (out: string) => out.split("\n").find((l) => l.startsWith("FAIL login: "));
  assert.ok(loginLine(rem.stdout), rem.stdout);
  assert.equal(loginLine(site.stdout), loginLine(rem.stdout));
  const hint = (out: string) => out.slice(out.indexOf("FAIL login: ")).split("\n")[1];
  assert.equal(hint(site.stdout), hint(rem.stdout));
  assert.match(hint(rem.stdout)!, /^ {5}hint: check the host name and port/);
});

Deno.test({
  name: "on the test site both commands print the same site lines; neither creates the directory",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const fresh = `${p.site.SITE_REMOTE_DIR}/not-yet-${crypto.randomUUID().slice(0, 8)}`;
    const text = await Deno.readTextFile(p.profile);
    await Deno.writeTextFile(
      p.profile,
      text.replace(`base_dir: ${p.site.SITE_REMOTE_DIR}`, `base_dir: ${fresh}`),
    );
    const site = await runIn(p, ["site", "check", "site.yaml"]);
    const rem = await runIn(p, ["remote", "check", "--site", "site.yaml"]);
    assert.equal(site.code, 0, site.stdout + site.stderr);
    assert.equal(rem.code, 0, rem.stdout + rem.stderr);
    const siteLines = (out: string) =>
      out.split("\n").filter((l) =>
        /^(ok {2}|FAIL) (host key|login|sbatch|partition|remote directory|node command): /.test(l)
      );
    assert.deepEqual(siteLines(site.stdout), siteLines(rem.stdout));
    assert.equal(siteLines(rem.stdout).length, 6, rem.stdout);
    assert.equal(await remote(p.site, `test -e ${fresh} && echo there || echo absent`), "absent\n");
    // The flags of remote check reach the same lines.
    const flags = await runIn(p, ["remote", "check", ...siteFlags(p.site)]);
    assert.match(flags.stdout, /^ok {3}remote directory: /m);
  },
});
