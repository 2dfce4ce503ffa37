/**
 * An upload whose sshd session is killed mid-transfer fails cleanly and
 * leaves its temporary file; the next upload continues from that file's
 * length (progress starts above 0, `resumedFrom` > 0) and the result is
 * verified by size and SHA-256 — for both byte movers. Uses a private sshd so
 * killing sessions cannot disturb anything else.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { Transfers } from "../../src/remote/transfer.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { sha256File } from "../../src/util/files.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, siteEnv } from "./_site.ts";
import { startSshd } from "./_sshd.ts";

const SIZE = 96 << 20;
const KILL_AT = 24 << 20;

async function randomFile(path: string, size: number): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  const chunk = new Uint8Array(1 << 20);
  for (let left = size; left > 0; left -= chunk.length) {
    for (let o = 0; o < chunk.length; o += 65536) {
      crypto.getRandomValues(chunk.subarray(o, o + 65536));
    }
    await file.write(chunk);
  }
  file.close();
}

for (const via of ["openssh", "sftp"] as const) {
  Deno.test({
    name: `interrupted upload via ${via}: sshd session killed, next upload resumes and verifies`,
    ignore: SITE_SKIP !== false,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const env = await siteEnv();
      await using sshd = await startSshd(env);
      await using tmp = await tempDir();
      const settings = connection(env, {
        login: { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! },
        knownHosts: sshd.knownHosts,
        bulk: via,
      });
      const local = `${tmp.path}/data.bin`;
      await randomFile(local, SIZE);
      const want = await sha256File(local);
      const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("resume")}`;
      const part = `${remoteDir}/.data.bin.sealbatch-part`;

      // First attempt: find the session serving the bytes, kill it mid-way.
      const site = await RemoteSite.connect(settings);
      const before = new Set((await sshd.sessions()).map((s) => s[0]));
      const transfers = await Transfers.open(site);
      assert.equal(transfers.via, via);
      const sessions = await sshd.sessions();
      // OpenSSH brings its own connection; SFTP runs on the login connection.
      const serving = via === "openssh"
        ? sessions.filter((s) => !before.has(s[0]))
        : sessions.filter((s) => before.has(s[0]));
      assert.equal(serving.length, 1, `sessions: ${JSON.stringify(sessions)}`);
      let killedAt = 0;
      await assert.rejects(
        transfers.upload(local, remoteDir, {
          onProgress: (p) => {
            if (killedAt === 0 && p.done >= KILL_AT) {
              killedAt = p.done;
              for (const pid of serving[0]!) Deno.kill(pid, "SIGKILL");
            }
          },
        }),
        (err) => err instanceof SealbatchError && err.kind === "remote",
      );
      assert.ok(killedAt > 0);
      await transfers.close().catch(() => {});
      site.close();

      // The next upload, on a new connection as a new run would make.
      await using site2 = await RemoteSite.connect(settings);
      try {
        const partSize = Number(
          (await site2.login.exec(`stat -c %s ${part}`)).stdout.trim(),
        );
        assert.ok(partSize > 0 && partSize < SIZE, `partial file has ${partSize} bytes`);
        await using transfers2 = await Transfers.open(site2);
        let first = -1;
        const up = await transfers2.upload(local, remoteDir, {
          onProgress: (p) => {
            if (first < 0) first = p.done;
          },
        });
        assert.equal(up.resumedFrom, partSize);
        assert.ok(first > partSize, `progress started at ${first}`);
        assert.equal(up.sha256, want);
        assert.equal(up.size, SIZE);
        const remote = await site2.login.exec(
          `sha256sum ${remoteDir}/data.bin; ls -A ${remoteDir}`,
        );
        assert.equal(remote.stdout.split(" ")[0], want);
        assert.doesNotMatch(remote.stdout, /sealbatch-part/);
      } finally {
        await site2.login.exec(`rm -rf -- ${remoteDir}`);
      }
    },
  });
}
