/**
 * Upload speed against the local test site's sshd, in one run: 512 MiB with
 * sealbatch (its default, fastest path, with the key-material scan and the
 * size and SHA-256 verification on the remote side included) next to OpenSSH
 * `scp` of the same file to the same sshd, as users run it (default cipher)
 * and with the cipher sealbatch picks (aes128-gcm); ssh2's SFTP path once for
 * reference. The tools alternate for ROUNDS rounds; the best time of each is
 * compared (the machine is shared, so single runs are noisy).
 *
 *   deno run -P=test scripts/bench-transfer.ts [MiB] [rounds]
 */
import { RemoteSite } from "../src/remote/connection.ts";
import { Transfers } from "../src/remote/transfer.ts";
import type { SiteConnection } from "../src/remote/settings.ts";

const MIB = Number(Deno.args[0] ?? 512);
const ROUNDS = Number(Deno.args[1] ?? 3);
const ROOT = new URL("../", import.meta.url).pathname;

async function run(program: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${program} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const env: Record<string, string> = {};
for (const line of (await run("bash", [`${ROOT}scripts/test-site.sh`, "up"])).split("\n")) {
  const i = line.indexOf("=");
  if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
}
const settings = (bulk: "openssh" | "sftp" | "auto"): SiteConnection => ({
  login: { host: env.SITE_HOST!, port: Number(env.SITE_PORT), user: env.SITE_USER! },
  identity: env.SITE_IDENTITY!,
  knownHosts: env.SITE_KNOWN_HOSTS!,
  remoteDir: env.SITE_REMOTE_DIR!,
  bulk,
});

const work = await Deno.makeTempDir({ prefix: "bench-transfer-" });
const file = `${work}/payload.bin`;
{
  const f = await Deno.open(file, { write: true, createNew: true });
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < MIB; i++) {
    for (let o = 0; o < chunk.length; o += 65536) {
      crypto.getRandomValues(chunk.subarray(o, o + 65536));
    }
    await f.write(chunk);
  }
  f.close();
}
const remoteBase = `${env.SITE_REMOTE_DIR}/bench-${crypto.randomUUID().slice(0, 8)}`;
const site = await RemoteSite.connect(settings("auto"));
await site.login.exec(`mkdir -p ${remoteBase}`);

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function sealbatch(bulk: "auto" | "sftp", round: number): Promise<number> {
  await using s = await RemoteSite.connect(settings(bulk));
  await using t = await Transfers.open(s);
  return await timed(async () => {
    const r = await t.upload(file, `${remoteBase}/${bulk}${round}`);
    if (r.unchanged || r.size !== MIB << 20) throw new Error("upload did not send the file");
  });
}

function scp(round: number, cipher?: string): Promise<number> {
  return timed(async () => {
    await run("scp", [
      "-q",
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      `UserKnownHostsFile=${env.SITE_KNOWN_HOSTS}`,
      "-o",
      "StrictHostKeyChecking=yes",
      ...(cipher ? ["-o", `Ciphers=${cipher}`] : []),
      "-i",
      env.SITE_IDENTITY!,
      "-P",
      env.SITE_PORT!,
      file,
      `${env.SITE_USER}@${env.SITE_HOST}:${remoteBase}/scp${cipher ? "g" : ""}${round}`,
    ]);
  });
}

const best = { sealbatch: Infinity, scp: Infinity, scpGcm: Infinity, sftp: Infinity };
let via = "";
try {
  for (let round = 0; round < ROUNDS; round++) {
    const s = await sealbatch("auto", round);
    const c = await scp(round);
    const g = await scp(round, "aes128-gcm@openssh.com");
    best.sealbatch = Math.min(best.sealbatch, s);
    best.scp = Math.min(best.scp, c);
    best.scpGcm = Math.min(best.scpGcm, g);
    console.log(
      `round ${round + 1}: sealbatch ${s.toFixed(2)} s, scp ${c.toFixed(2)} s, ` +
        `scp aes128-gcm ${g.toFixed(2)} s`,
    );
    await site.login.exec(`rm -f ${remoteBase}/*`);
  }
  best.sftp = await sealbatch("sftp", 0);
  {
    await using t = await Transfers.open(site);
    via = t.via;
  }
} finally {
  await site.login.exec(`rm -rf ${remoteBase}`).catch(() => {});
  site.close();
  await Deno.remove(work, { recursive: true });
}
const rate = (s: number) => `${(MIB / s).toFixed(0)} MiB/s`;
const ratio = (s: number) => `${(best.scp / s).toFixed(2)}x`;
console.log(`\n${MIB} MiB upload, best of ${ROUNDS} (sealbatch path: ${via}, verified):`);
console.log(`  sealbatch        ${best.sealbatch.toFixed(2)} s  ${rate(best.sealbatch)}`);
console.log(`  scp              ${best.scp.toFixed(2)} s  ${rate(best.scp)}`);
console.log(`  scp aes128-gcm   ${best.scpGcm.toFixed(2)} s  ${rate(best.scpGcm)}`);
console.log(`  ssh2 sftp (1x)   ${best.sftp.toFixed(2)} s  ${rate(best.sftp)}`);
console.log(
  `  speed vs scp: sealbatch ${ratio(best.sealbatch)} ` +
    `(vs scp aes128-gcm ${(best.scpGcm / best.sealbatch).toFixed(2)}x), ` +
    `ssh2 sftp ${ratio(best.sftp)}`,
);
