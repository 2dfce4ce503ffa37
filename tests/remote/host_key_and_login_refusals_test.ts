/**
 * Host key policy and login against a real sshd of our own: an unknown host
 * and a changed host key are refusals that show the presented fingerprint;
 * accept-new only as an explicit option (and never over a changed key); a
 * pinned fingerprint replaces known_hosts and a wrong pin is refused; a user
 * key the server does not accept is a clean login failure (exit 6). The CLI
 * maps the host key refusals to exit code 4 (refused) with one error line.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { connection, SITE_SKIP, siteEnv } from "./_site.ts";
import { startSshd } from "./_sshd.ts";

const opts = { ignore: SITE_SKIP !== false, sanitizeResources: false, sanitizeOps: false };

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<SealbatchError> {
  try {
    const site = await p;
    (site as RemoteSite).close();
  } catch (err) {
    assert.ok(err instanceof SealbatchError, String(err));
    assert.equal(err.kind, "refused", err.message);
    assert.match(err.message, pattern);
    return err;
  }
  throw new Error("connection was not refused");
}

Deno.test({
  name: "unknown host key: refused with its fingerprint; accepted only with accept-new",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using sshd = await startSshd(env);
    await using tmp = await tempDir();
    const known = `${tmp.path}/known_hosts`;
    await Deno.writeTextFile(known, "");
    const login = { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! };
    const err = await refused(
      RemoteSite.connect(connection(env, { login, knownHosts: known })),
      /is not known/,
    );
    assert.ok(err.message.includes(sshd.fingerprint), err.message);
    assert.equal(await Deno.readTextFile(known), "", "nothing is written without accept-new");

    // Explicit accept-new: connects and records exactly the presented key.
    const site = await RemoteSite.connect(
      connection(env, { login, knownHosts: known, acceptNew: true }),
    );
    assert.equal((await site.login.exec("echo hi")).stdout, "hi\n");
    site.close();
    assert.equal((await Deno.readTextFile(known)).trim(), sshd.knownHostsLine);
    // From now on the ordinary strict check passes.
    (await RemoteSite.connect(connection(env, { login, knownHosts: known }))).close();
  },
});

Deno.test({
  name: "changed host key: refused with the fingerprint, even with accept-new; CLI exit 4",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using sshd = await startSshd(env);
    await using other = await startSshd(env);
    await using tmp = await tempDir();
    // known_hosts names sshd's address with the other server's key: a changed key.
    const known = `${tmp.path}/known_hosts`;
    const otherKey = other.knownHostsLine.split(" ").slice(1).join(" ");
    await Deno.writeTextFile(known, `[127.0.0.1]:${sshd.port} ${otherKey}\n`);
    const login = { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! };
    for (const acceptNew of [false, true]) {
      const err = await refused(
        RemoteSite.connect(connection(env, { login, knownHosts: known, acceptNew })),
        /does not match .*intercepted/,
      );
      assert.ok(err.message.includes(sshd.fingerprint), err.message);
    }
    assert.equal(await Deno.readTextFile(known), `[127.0.0.1]:${sshd.port} ${otherKey}\n`);

    const cli = await runCli([
      "remote",
      "check",
      "--host",
      "127.0.0.1",
      "--port",
      String(sshd.port),
      "--user",
      env.SITE_USER!,
      "--identity",
      env.SITE_IDENTITY!,
      "--known-hosts",
      known,
      "--remote-dir",
      env.SITE_REMOTE_DIR!,
    ]);
    assert.equal(cli.code, 4, cli.stderr);
    assert.ok(cli.stdout.includes(sshd.fingerprint), cli.stdout);
    assertOneLineError(cli.stderr);
  },
});

Deno.test({
  name: "pinned fingerprint: the right pin connects without known_hosts, a wrong pin is refused",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using sshd = await startSshd(env);
    await using other = await startSshd(env);
    await using tmp = await tempDir();
    const login = { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! };
    const noFile = `${tmp.path}/absent_known_hosts`;
    const site = await RemoteSite.connect(
      connection(env, { login, knownHosts: noFile, hostKeyFingerprint: sshd.fingerprint }),
    );
    assert.equal((await site.login.exec("id -un")).stdout.trim(), env.SITE_USER);
    site.close();
    const err = await refused(
      RemoteSite.connect(
        connection(env, { login, knownHosts: noFile, hostKeyFingerprint: other.fingerprint }),
      ),
      /does not match the pinned fingerprint/,
    );
    assert.ok(err.message.includes(sshd.fingerprint), err.message);

    // The same through a site profile with ssh.host_key_fingerprint, via the CLI.
    const profile = (pin: string) =>
      [
        "name: pinned",
        "ssh:",
        `  login: { host: 127.0.0.1, port: ${sshd.port} }`,
        `  user: ${env.SITE_USER}`,
        `  identity: ${env.SITE_IDENTITY}`,
        `  known_hosts: ${noFile}`,
        `  host_key_fingerprint: "${pin}"`,
        "remote:",
        `  base_dir: ${env.SITE_REMOTE_DIR}`,
        "vault:",
        "  addr: https://vault.example.org:8200",
        "node:",
        `  public_key: ${env.SITE_NODE_PUBKEY}`,
      ].join("\n") + "\n";
    await Deno.writeTextFile(`${tmp.path}/good.yaml`, profile(sshd.fingerprint));
    await Deno.writeTextFile(`${tmp.path}/bad.yaml`, profile(other.fingerprint));
    const good = await runCli(["remote", "check", "--site", `${tmp.path}/good.yaml`]);
    assert.match(good.stdout, /ok {3}host key: .*SHA256:/);
    assert.match(good.stdout, new RegExp(`ok {3}login: logged in as ${env.SITE_USER}`));
    const bad = await runCli(["remote", "check", "--site", `${tmp.path}/bad.yaml`]);
    assert.equal(bad.code, 4, bad.stderr);
    assert.ok(bad.stdout.includes(sshd.fingerprint), bad.stdout);
    assertOneLineError(bad.stderr);
  },
});

Deno.test({
  name: "a user key the server does not accept is a clean login failure, not a refusal",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using sshd = await startSshd(env);
    await using tmp = await tempDir();
    const key = `${tmp.path}/id_other`;
    const gen = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ed25519", "-N", "", "-f", key],
    }).output();
    assert.ok(gen.success);
    const login = { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! };
    const err = await RemoteSite.connect(
      connection(env, { login, knownHosts: sshd.knownHosts, identity: key }),
    ).then((site) => {
      site.close();
      assert.fail("the server accepted a key it does not know");
    }, (e) => e);
    // A login failure (6), not the tamper code 4 that admins alert on.
    assert.ok(err instanceof SealbatchError, String(err));
    assert.equal(err.kind, "remote", err.message);
    assert.match(
      err.message,
      new RegExp(
        `cannot log in to "${env.SITE_USER}@127\\.0\\.0\\.1:\\d+": the server refused the key`,
      ),
    );
    assert.match(await sshd.log(), new RegExp(`Failed publickey for ${env.SITE_USER}`));
  },
});
