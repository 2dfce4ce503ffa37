/**
 * `sealbatch run` whose upload is cut in the middle fails; the next run
 * continues that upload after the bytes already sent, escrows nothing new and
 * completes with bart's outputs. The cut is at a known byte, whatever the
 * machine's load: the first run's sshd lets its sessions write files of at
 * most CUT bytes (RLIMIT_FSIZE), so the receiving side of input.img dies
 * there; the second run goes through an sshd without the limit. Private sshds,
 * so that nothing disturbs the shared test site.
 */
import assert from "node:assert/strict";
import { startSshd } from "../remote/_sshd.ts";
import { bartReference, E2E_SKIP, jobIdOf, makeProject, remote, runIn } from "./_fixture.ts";

const CUT = 4 << 20;

Deno.test({
  name: "an upload cut at a known byte: the next run continues the upload and completes",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    // An input well above the cut (and above 8 MiB: smaller files go in one command, not resumed).
    const noise = new Uint8Array(24 << 20);
    for (let o = 0; o < noise.length; o += 65536) {
      crypto.getRandomValues(noise.subarray(o, o + 65536));
    }
    await Deno.writeFile(`${p.dir}/input/noise.bin`, noise);
    const original = await Deno.readTextFile(p.profile);
    const through = async (sshd: { port: number; knownHosts: string }) =>
      await Deno.writeTextFile(
        p.profile,
        original.replace(`port: ${p.site.SITE_PORT}`, `port: ${sshd.port}`)
          .replace(`known_hosts: ${p.site.SITE_KNOWN_HOSTS}`, `known_hosts: ${sshd.knownHosts}`),
      );
    const args = ["run", "job.yaml", "--site", "site.yaml"];

    let r1;
    {
      await using cutting = await startSshd(p.site, { fileSizeLimit: CUT });
      await through(cutting);
      r1 = await runIn(p, args);
    }
    assert.notEqual(r1.code, 0, r1.stderr);
    assert.match(r1.stderr, /sealbatch: error: /);
    const job = jobIdOf(r1.stderr);
    const part = `${p.site.SITE_REMOTE_DIR}/jobs/${job}/.input.img.sealbatch-part`;
    assert.equal((await Deno.stat(part)).size, CUT, "the partial upload stopped at the cut");
    const keys = `${p.dir}/.sealbatch/jobs/${job}/keys.json`;
    const escrowed = JSON.parse(await Deno.readTextFile(keys)).created_at;

    await using open = await startSshd(p.site);
    await through(open);
    const r2 = await runIn(p, args);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(jobIdOf(r2.stderr), job, "the second run resumes the same job");
    assert.match(r2.stderr, /^escrow +skipped/m);
    // The cut file continues after exactly what it had sent.
    assert.match(
      r2.stderr,
      new RegExp(`^upload +input\\.img: continued after ${CUT} bytes sent earlier, verified$`, "m"),
    );
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
