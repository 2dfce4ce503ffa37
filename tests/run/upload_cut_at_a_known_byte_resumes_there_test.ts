/**
 * `sealbatch run` whose SSH sessions die (sshd's processes killed) in the
 * middle of an upload fails; the next run continues that upload after the
 * bytes already sent, escrows nothing new and completes with bart's outputs.
 * Uses a private sshd so killing sessions cannot disturb the shared test site.
 */
import assert from "node:assert/strict";
import { startSshd } from "../remote/_sshd.ts";
import { bartReference, E2E_SKIP, jobIdOf, makeProject, remote, runIn } from "./_fixture.ts";

/**
 * The partial upload of input.img once it holds a MiB, polled until `stop`.
 * (Files below 8 MiB, like run.sh here, go in one command and are not resumed.)
 */
async function watchPartial(dir: string, stop: () => boolean): Promise<string | undefined> {
  const part = `${dir}/.input.img.sealbatch-part`;
  while (!stop()) {
    const size = (await Deno.stat(part).catch(() => undefined))?.size ?? 0;
    if (size >= 1 << 20) return "input.img";
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

Deno.test({
  name: "sshd killed during the upload: the next run continues the upload and completes",
  // The partial file is watched directly: the shared side is on this machine.
  ignore: E2E_SKIP !== false || Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    await using sshd = await startSshd(p.site);
    // A larger input keeps the upload of input.img going long enough to cut it.
    const noise = new Uint8Array(48 << 20);
    for (let o = 0; o < noise.length; o += 65536) {
      crypto.getRandomValues(noise.subarray(o, o + 65536));
    }
    await Deno.writeFile(`${p.dir}/input/noise.bin`, noise);
    const profile = (await Deno.readTextFile(p.profile))
      .replace(`port: ${p.site.SITE_PORT}`, `port: ${sshd.port}`)
      .replace(`known_hosts: ${p.site.SITE_KNOWN_HOSTS}`, `known_hosts: ${sshd.knownHosts}`);
    await Deno.writeTextFile(p.profile, profile);
    const args = ["run", "job.yaml", "--site", "site.yaml"];

    let watching: Promise<string | undefined> | undefined;
    let ended = false;
    const first = runIn(p, args, (line) => {
      const m = /^job (\S+) on /.exec(line);
      if (m && !watching) {
        watching = watchPartial(`${p.site.SITE_REMOTE_DIR}/jobs/${m[1]}`, () => ended).then(
          async (file) => {
            // Every session below the listener: the command session and the byte mover's.
            if (file) {
              for (const pid of (await sshd.sessions()).flat()) {
                try {
                  Deno.kill(pid, "SIGKILL");
                } catch (err) {
                  // A session that ended by itself meanwhile (a small file's upload).
                  if (!(err instanceof Deno.errors.NotFound)) throw err;
                }
              }
            }
            return file;
          },
        );
      }
    });
    const r1 = await first;
    ended = true;
    const cut = await watching;
    assert.ok(cut, `no partial upload was seen:\n${r1.stderr}`);
    assert.notEqual(r1.code, 0, r1.stderr);
    assert.match(r1.stderr, /sealbatch: error: /);
    const job = jobIdOf(r1.stderr);
    const keys = `${p.dir}/.sealbatch/jobs/${job}/keys.json`;
    const escrowed = JSON.parse(await Deno.readTextFile(keys)).created_at;

    const r2 = await runIn(p, args);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(jobIdOf(r2.stderr), job, "the second run resumes the same job");
    assert.match(r2.stderr, /^escrow +skipped/m);
    // The cut file continues after what it had sent.
    const resumed = /^upload +input\.img: continued after (\d+) bytes sent earlier, verified$/m
      .exec(r2.stderr);
    assert.ok(resumed && Number(resumed[1]) > 0, `no continued upload:\n${r2.stderr}`);
    // One escrow, one submission, and the outputs of bart run directly.
    assert.equal(JSON.parse(await Deno.readTextFile(keys)).created_at, escrowed);
    const logs = await remote(
      p.site,
      `ls ${p.site.SITE_REMOTE_DIR}/jobs/${job}/ | grep -c '^slurm-'`,
    );
    assert.equal(logs.trim(), "1");
    const ref = await bartReference(p.dir);
    assert.deepEqual(await Deno.readFile(`${p.dir}/results/output_fft.cfl`), ref.cfl);
  },
});
