/**
 * Uploads and downloads of 1 KB, 64 MB and 512 MB against the real sshd,
 * verified by size and SHA-256 on the receiving side; the same through the
 * ssh2 SFTP mover; an existing identical target is not sent again.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { Transfers } from "../../src/remote/transfer.ts";
import { sha256File } from "../../src/util/files.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, siteEnv } from "./_site.ts";

async function randomFile(path: string, size: number): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  const chunk = new Uint8Array(Math.min(size, 1 << 20));
  let left = size;
  while (left > 0) {
    crypto.getRandomValues(chunk.subarray(0, Math.min(65536, chunk.length)));
    // Vary every MiB cheaply: a random head per chunk keeps the data non-repeating.
    const n = Math.min(left, chunk.length);
    let off = 0;
    while (off < n) off += await file.write(chunk.subarray(off, n));
    left -= n;
  }
  file.close();
}

for (const via of ["openssh", "sftp"] as const) {
  const sizes = via === "openssh" ? [1024, 64 << 20, 512 << 20] : [1024, 64 << 20];
  Deno.test({
    name: `transfers via ${via}: ${
      sizes.map((s) => s < 1 << 20 ? `${s / 1024} KB` : `${s >> 20} MB`).join(", ")
    } up and down, verified`,
    ignore: SITE_SKIP !== false,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const env = await siteEnv();
      await using tmp = await tempDir();
      await using site = await RemoteSite.connect(connection(env, { bulk: via }));
      await using transfers = await Transfers.open(site);
      assert.equal(transfers.via, via);
      const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("t")}`;
      try {
        for (const size of sizes) {
          const local = `${tmp.path}/f${size}.bin`;
          await randomFile(local, size);
          const want = await sha256File(local);
          let lastProgress = 0;
          const up = await transfers.upload(local, remoteDir, {
            onProgress: (p) => (lastProgress = p.done),
          });
          assert.equal(up.size, size);
          assert.equal(up.sha256, want);
          assert.equal(up.unchanged, false);
          assert.equal(lastProgress, size);
          // The remote side's own tools agree, and no temporary name is left.
          const check = await site.login.exec(
            `sha256sum ${remoteDir}/f${size}.bin; ls -A ${remoteDir}`,
          );
          assert.equal(check.stdout.split(" ")[0], want);
          assert.doesNotMatch(check.stdout, /sealbatch-part/);
          // Again: identical target, nothing sent.
          assert.equal((await transfers.upload(local, remoteDir)).unchanged, true);

          const back = `${tmp.path}/back/f${size}.bin`;
          const down = await transfers.download(`${remoteDir}/f${size}.bin`, back);
          assert.equal(down.sha256, want);
          assert.equal(await sha256File(back), want);
          await Deno.remove(local);
          await Deno.remove(back);
        }
      } finally {
        await site.login.exec(`rm -rf -- ${remoteDir}`);
      }
    },
  });
}
