import assert from "node:assert/strict";
import { kvPathFor } from "../../src/kms/escrow.ts";
import { bartReference, E2E_SKIP, jobIdOf, makeProject, remote, runIn } from "./_fixture.ts";

Deno.test({
  name: "the tutorial's bart job runs end to end: same outputs as bart, keys revoked, " +
    "no plaintext on the shared side",
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
    assert.equal(r.code, 0, `run failed:\n${r.stderr}\n${r.stdout}`);
    const job = jobIdOf(r.stderr);

    // Outputs identical to running bart directly.
    const ref = await bartReference(p.dir);
    assert.deepEqual(await Deno.readFile(`${p.dir}/results/output_fft.cfl`), ref.cfl);
    // The header also records bart's command line (paths differ); the dimensions must not.
    const dims = (hdr: string) => hdr.slice(0, hdr.indexOf("# Command"));
    assert.equal(dims(await Deno.readTextFile(`${p.dir}/results/output_fft.hdr`)), dims(ref.hdr));
    assert.match(ref.hdr, /# Dimensions\n256 256 /);
    assert.equal((await Deno.readTextFile(`${p.dir}/results/job.status`)).trim(), "0");

    // Summary: every step with its time and protection; receipt verified.
    for (const step of ["seal-input", "escrow", "upload", "submit", "verify-receipt", "revoke"]) {
      assert.match(r.stdout, new RegExp(`^  ${step} +\\S+`, "m"));
    }
    assert.match(r.stdout, /receipt: signed by the node/);
    // Over a site, the transport is SSH with the host key checked.
    assert.match(r.stdout, /^ {2}upload +\S+ +SSH, host key checked; each file verified/m);
    assert.match(r.stdout, /^ {2}submit +\S+ +sbatch -p secure --exclusive/m);

    // Keys revoked: the secret is gone from Vault and the local key is wiped.
    const vault = await p.client();
    const path = kvPathFor("job-scoped", p.site.SITE_USER!, job, "luks");
    assert.equal(await vault.kvRead("secret", path), null);
    const record = JSON.parse(
      await Deno.readTextFile(`${p.dir}/.sealbatch/jobs/${job}/keys.json`),
    );
    assert.ok(record.revoked_at, "the key record is marked revoked");
    await assert.rejects(Deno.stat(`${p.dir}/.sealbatch/jobs/${job}/keys`));
    assert.equal((await Deno.stat(`${p.dir}/.sealbatch`)).mode! & 0o777, 0o700);
    assert.equal(
      (await Deno.stat(`${p.dir}/.sealbatch/jobs/${job}/state.json`)).mode! & 0o777,
      0o600,
    );

    // Nothing plaintext on the shared side: neither the input's bytes nor its or the
    // outputs' names appear in the remote job directory or the Slurm log.
    const jobDir = `${p.site.SITE_REMOTE_DIR}/jobs/${job}`;
    const listing = await remote(p.site, `ls -la ${jobDir}`);
    assert.match(listing, /run\.sh\.sig/);
    assert.match(listing, /receipt\.json/);
    const input = await Deno.readFile(`${p.dir}/input/shepp_logan.cfl`);
    const needle = [...input.subarray(4096, 4096 + 32)]
      .map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
    const hits = await remote(
      p.site,
      `grep -rlaF -e shepp_logan -e output_fft ${jobDir}; ` +
        `LC_ALL=C grep -rlaP '${needle}' ${jobDir}; true`,
    );
    assert.equal(hits.trim(), "", `plaintext found in:\n${hits}`);
    const log = await remote(p.site, `cat ${jobDir}/slurm-*.out`);
    assert.match(log, /sealbatch/);
    assert.doesNotMatch(log, /shepp_logan|output_fft|\.cfl|\.hdr/);

    // job list / job show read the same state.
    const list = await runIn(p, ["job", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${job} .* COMPLETED`));
    const show = await runIn(p, ["job", "show", job]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /receipt +verified: signed by the node key/);
  },
});
