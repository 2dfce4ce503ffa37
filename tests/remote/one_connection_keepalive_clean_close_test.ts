/**
 * Many operations share one connection: 100 commands, an upload and a
 * download cost one TCP connection for commands plus one for OpenSSH bytes
 * (one in total with the SFTP mover), counted by the sshd's own log and by
 * `ss`. Idle connections send keepalives; close() ends every session with a
 * proper disconnect and leaves no sshd session process behind.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { Transfers } from "../../src/remote/transfer.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, siteEnv } from "./_site.ts";
import { startSshd } from "./_sshd.ts";

const count = (text: string, re: RegExp) => text.match(new RegExp(re, "g"))?.length ?? 0;

async function established(port: number): Promise<number> {
  const out = await new Deno.Command("ss", {
    args: ["-Htn", "state", "established", `( dport = :${port} )`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const [bulk, connections] of [["openssh", 2], ["sftp", 1]] as const) {
  Deno.test({
    name: `one connection (${bulk}): 100 commands + upload + download over ${connections} TCP`,
    ignore: SITE_SKIP !== false,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const env = await siteEnv();
      await using sshd = await startSshd(env);
      await using tmp = await tempDir();
      const site = await RemoteSite.connect(connection(env, {
        login: { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! },
        knownHosts: sshd.knownHosts,
        keepaliveMs: 1000,
        bulk,
      }));
      const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("reuse")}`;
      const local = `${tmp.path}/f.bin`;
      await Deno.writeFile(local, crypto.getRandomValues(new Uint8Array(65536)));
      try {
        const transfers = await Transfers.open(site);
        for (let i = 0; i < 100; i++) {
          assert.equal((await site.login.exec(`echo ${i}`)).stdout, `${i}\n`);
        }
        const up = await transfers.upload(local, remoteDir);
        await transfers.download(up.path, `${tmp.path}/back.bin`);
        assert.equal(await established(sshd.port), connections);
        // Idle: the client probes the server (and the server answers).
        await new Promise((r) => setTimeout(r, 2500));
        assert.ok(
          count(await sshd.log(), /keepalive@openssh\.com/) >= 2,
          "keepalive requests reach the server",
        );
        await site.login.exec(`rm -rf -- ${remoteDir}`);
        await transfers.close();
      } finally {
        site.close();
      }
      const log = await sshd.log();
      assert.equal(count(log, new RegExp(`Accepted publickey for ${env.SITE_USER} `)), connections);
      assert.ok(count(log, /Starting session: command/) >= 100);
      // Every connection ended with a disconnect message, nothing is left running.
      await until("sessions to end", async () => (await sshd.sessions()).length === 0);
      assert.equal(count(await sshd.log(), /Received disconnect from 127\.0\.0\.1/), connections);
      assert.equal(await established(sshd.port), 0);
    },
  });
}
