/**
 * Reaching a site the way the reference site is built, with real sshds of
 * our own on loopback: a login host behind a jump host (commands, both byte
 * movers, host keys of both checked); the Vault development server (TLS)
 * behind the login host, reached through the tunnel with TLS verified against
 * the server's real name; separate hosts for commands and bulk transfer.
 */
import assert from "node:assert/strict";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { RemoteSite } from "../../src/remote/connection.ts";
import { Transfers } from "../../src/remote/transfer.ts";
import { openTunnel, targetOf } from "../../src/remote/tunnel.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, siteEnv } from "./_site.ts";
import { startSshd } from "./_sshd.ts";

const opts = { ignore: SITE_SKIP !== false, sanitizeResources: false, sanitizeOps: false };

const count = (text: string, re: RegExp) => text.match(new RegExp(re, "g"))?.length ?? 0;

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** A CA and a server certificate valid only for the DNS name "localhost" (no IP address). */
async function localhostOnlyCert(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=kms test CA",
  ], dir);
  await openssl(["req", ...ec, "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=localhost"], dir);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "s.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "s.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ], dir);
  return { ca: `${dir}/ca.pem`, cert: `${dir}/s.pem`, key: `${dir}/s.key` };
}

Deno.test({
  name: "jump host: commands and both byte movers reach the login host through it",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using jump = await startSshd(env);
    await using login = await startSshd(env);
    await using tmp = await tempDir();
    const known = `${tmp.path}/known_hosts`;
    await Deno.writeTextFile(known, `${jump.knownHostsLine}\n${login.knownHostsLine}\n`);
    const user = env.SITE_USER!;
    const settings = connection(env, {
      login: { host: "127.0.0.1", port: login.port, user },
      jump: { host: "127.0.0.1", port: jump.port, user },
      knownHosts: known,
    });
    const local = `${tmp.path}/f.bin`;
    await Deno.writeFile(local, crypto.getRandomValues(new Uint8Array(65536)));
    const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("jump")}`;
    {
      await using site = await RemoteSite.connect(settings);
      assert.deepEqual(
        site.login.accepted.map((k) => k.endpoint.port),
        [jump.port, login.port],
        "both host keys were checked",
      );
      assert.equal((await site.login.exec("echo ok")).stdout, "ok\n");
      for (const bulk of ["openssh", "sftp"] as const) {
        await using site2 = await RemoteSite.connect({ ...settings, bulk });
        await using t = await Transfers.open(site2);
        assert.equal(t.via, bulk);
        const up = await t.upload(local, `${remoteDir}/${bulk}`);
        assert.equal(up.size, 65536);
      }
      await site.login.exec(`rm -rf -- ${remoteDir}`);
    }
    // The jump host forwarded each connection to the login host; the login host
    // saw every login (ssh2 x3, OpenSSH x1) coming through it.
    const forwarded = count(
      await jump.log(),
      new RegExp(
        `direct_tcpip: originator \\S+ port \\d+, target 127\\.0\\.0\\.1 port ${login.port}`,
      ),
    );
    assert.equal(forwarded, 4);
    assert.equal(count(await login.log(), new RegExp(`Accepted publickey for ${user} `)), 4);

    // A changed key of the jump host is refused before the login host is tried.
    await Deno.writeTextFile(
      known,
      `[127.0.0.1]:${jump.port} ${
        login.knownHostsLine.split(" ").slice(1).join(" ")
      }\n${login.knownHostsLine}\n`,
    );
    await assert.rejects(
      RemoteSite.connect(settings),
      (err) =>
        err instanceof SealbatchError && err.kind === "refused" &&
        err.message.includes(`[127.0.0.1]:${jump.port}`) && err.message.includes(jump.fingerprint),
    );
  },
});

Deno.test({
  name: "tunnel: the TLS key server behind the login host, verified against its real name",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using jump = await startSshd(env);
    await using login = await startSshd(env);
    await using tmp = await tempDir();
    const pki = await localhostOnlyCert(tmp.path);
    // The development server (the project's Vault stand-in), TLS only.
    const vault = await startDevServer({
      hostname: "127.0.0.1",
      port: 0,
      rootToken: "root-tunnel-token",
      cert: await Deno.readTextFile(pki.cert),
      key: await Deno.readTextFile(pki.key),
    });
    const port = Number(new URL(vault.addr).port);
    const realName = `https://localhost:${port}`;
    const known = `${tmp.path}/known_hosts`;
    await Deno.writeTextFile(known, `${jump.knownHostsLine}\n${login.knownHostsLine}\n`);
    const user = env.SITE_USER!;
    await using site = await RemoteSite.connect(connection(env, {
      login: { host: "127.0.0.1", port: login.port, user },
      jump: { host: "127.0.0.1", port: jump.port, user },
      knownHosts: known,
    }));
    // 127.0.0.1 is allowed too, only to show that TLS then checks that name and fails.
    const tunnel = await openTunnel(site.login, [targetOf(realName), { host: "127.0.0.1", port }]);
    const ca = await Deno.readTextFile(pki.ca);
    const client = Deno.createHttpClient({ caCerts: [ca], proxy: tunnel.proxy });
    try {
      const headers = { "X-Vault-Token": "root-tunnel-token" };
      const put = await fetch(`${realName}/v1/secret/data/tunnel/check`, {
        client,
        method: "POST",
        headers,
        body: JSON.stringify({ data: { v: "through-the-login-node" } }),
      });
      assert.equal(put.status, 200, await put.text());
      const get = await fetch(`${realName}/v1/secret/data/tunnel/check`, { client, headers });
      const body = await get.json() as { data: { data: { v: string } } };
      assert.equal(body.data.data.v, "through-the-login-node");
      assert.equal(tunnel.opened, 1, "one TLS connection, kept alive for both requests");
      // The login host opened the connection to the key server by its name.
      assert.match(await login.log(), new RegExp(`target localhost port ${port}\\b`));

      // Same server through the same tunnel under another name: TLS refuses it.
      await assert.rejects(
        fetch(`https://127.0.0.1:${port}/v1/sys/health`, { client }),
        (err: Error) => /not valid for name "127\.0\.0\.1"/.test(String(err.cause)),
      );
      // A host that was not asked for is not forwarded; nor is anyone without the password.
      await assert.rejects(fetch(`https://localhost:${jump.port}/`, { client }));
      const stranger = Deno.createHttpClient({ caCerts: [ca], proxy: { url: tunnel.proxy.url } });
      await assert.rejects(fetch(`${realName}/v1/sys/health`, { client: stranger }));
      stranger.close();
      assert.equal(tunnel.opened, 2, "only the TLS name check reached the login host");
      assert.throws(() => targetOf("http://vault.internal:8200"), /only https/);
    } finally {
      client.close();
      await tunnel.close();
      await vault.shutdown();
    }
  },
});

Deno.test({
  name: "separate hosts: commands on the login host, bulk bytes on the transfer host",
  ...opts,
  async fn() {
    const env = await siteEnv();
    await using login = await startSshd(env);
    await using transfer = await startSshd(env);
    await using tmp = await tempDir();
    const known = `${tmp.path}/known_hosts`;
    await Deno.writeTextFile(known, `${login.knownHostsLine}\n${transfer.knownHostsLine}\n`);
    const user = env.SITE_USER!;
    await using site = await RemoteSite.connect(connection(env, {
      login: { host: "127.0.0.1", port: login.port, user },
      transfer: { host: "127.0.0.1", port: transfer.port, user },
      knownHosts: known,
    }));
    assert.notEqual(site.login, site.transfer);
    const local = `${tmp.path}/f.bin`;
    const data = new Uint8Array(1 << 20);
    for (let o = 0; o < data.length; o += 65536) {
      crypto.getRandomValues(data.subarray(o, o + 65536));
    }
    await Deno.writeFile(local, data);
    const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("xfer")}`;
    const sessions = async (s: typeof login) =>
      count(await s.log(), /Starting session: (command|subsystem)/);
    const loginBefore = await sessions(login);
    const transferBefore = await sessions(transfer);
    {
      await using t = await Transfers.open(site);
      const up = await t.upload(local, remoteDir);
      const down = await t.download(up.path, `${tmp.path}/back.bin`);
      assert.equal(down.sha256, up.sha256);
    }
    assert.equal(await sessions(login), loginBefore, "no transfer work on the login host");
    assert.ok(await sessions(transfer) >= transferBefore + 3);
    // The login host sees the same file system here, as at a real site.
    const r = await site.login.exec(`sha256sum ${remoteDir}/f.bin && rm -rf -- ${remoteDir}`);
    assert.match(r.stdout, /^[0-9a-f]{64} /);
  },
});
