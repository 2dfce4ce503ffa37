/**
 * `sealbatch demo --site test` runs the tutorial's job on the real local test
 * site (sshd + Slurm + the node side, scripts/test-site.sh): the same outcomes
 * as the local demo (the table, a PNG, results byte-identical to bart on the
 * plaintext, no plaintext on the shared side), while the port of the test
 * site profile's Vault address (127.0.0.1:8200) is taken: the demo's Vault
 * must not need it.
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { exec } from "../../src/util/exec.ts";
import { E2E_SKIP, remote } from "../run/_fixture.ts";
import { siteEnv } from "../remote/_site.ts";
import { memoryDir } from "../run/_memory.ts";

const NAME = "sealbatch demo --site test runs the tutorial on the local test site: table, PNG, " +
  "bart-identical results, no plaintext on the site, with the profile's Vault port taken";

/** Hold 127.0.0.1:PORT for the test's lifetime (already taken by someone else is as good). */
function occupy(port: number): Disposable {
  let listener: Deno.Listener | undefined;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse)) throw err;
  }
  return { [Symbol.dispose]: () => listener?.close() };
}

Deno.test({
  name: E2E_SKIP === false ? NAME : `${NAME} (skipped: ${E2E_SKIP})`,
  ignore: E2E_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const site = await siteEnv();
    const profile = await Deno.readTextFile(site.SITE_PROFILE!);
    const port = Number(/^\s*addr: http:\/\/127\.0\.0\.1:(\d+)/m.exec(profile)?.[1]);
    assert.ok(port > 0, `no loopback Vault address in ${site.SITE_PROFILE}`);
    using _held = occupy(port);

    await using mem = await memoryDir();
    await using tmp = await tempDir("sealbatch-demo-site");
    const dir = `${tmp.path}/demo`;
    const r = await runCli(["demo", "--site", "test", "--dir", dir], { env: mem.env });
    assert.equal(r.code, 0, `demo failed:\n${r.stderr}\n${r.stdout}`);

    // Where it ran, and the table with the site's own steps (submit, fetch) and a total.
    const ran = /^sealbatch demo: job (shepp-logan-[0-9a-f]{8}) ran on the (.*)$/m.exec(r.stdout);
    assert.ok(ran, r.stdout);
    const job = ran[1]!;
    assert.match(ran[2]!, new RegExp(`${site.SITE_USER}@${site.SITE_HOST}:${site.SITE_PORT}`));
    assert.match(r.stdout, /^step\s+protected by\s+time$/m);
    for (
      const step of ["vault", "keys", "seal-input", "escrow", "seal-job", "upload", "submit"]
        .concat(["wait", "fetch", "verify-receipt", "open-results", "revoke", "view"])
    ) {
      assert.match(r.stdout, new RegExp(`^${step}\\s+\\S.*\\s\\d+\\.\\d+ s$`, "m"), step);
    }
    assert.match(r.stdout, /^total\s+\d+\.\d+ s$/m);
    assert.match(r.stdout, new RegExp(`reconstruction \\(PNG\\): ${dir}/reconstruction\\.png`));
    // No local stand-in: the shared file system is the site's.
    assert.doesNotMatch(r.stdout, /stand-in shared file system/);

    const png = decode(await Deno.readFile(`${dir}/reconstruction.png`));
    assert.equal(png.width, 256);
    assert.equal(png.height, 256);
    assert.ok(new Set(png.data).size > 4, "the image is not blank");

    // The same job run directly on the plaintext gives the same bytes.
    const input = `${dir}/project/input/shepp_logan`;
    const results = `${dir}/project/results`;
    await exec("bart", ["fft", "-u", "-i", "3", input, `${tmp.path}/direct`]);
    assert.deepEqual(
      await Deno.readFile(`${results}/output_fft.cfl`),
      await Deno.readFile(`${tmp.path}/direct.cfl`),
    );
    // BART records its command line (with paths) in the header: compare the dimensions.
    const dims = async (hdr: string) =>
      (await Deno.readTextFile(hdr)).match(/# Dimensions\n(.*)\n/)?.[1];
    assert.equal(await dims(`${results}/output_fft.hdr`), "256 256 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ");
    assert.equal(await dims(`${tmp.path}/direct.hdr`), await dims(`${results}/output_fft.hdr`));
    assert.equal((await Deno.readTextFile(`${results}/job.status`)).trim(), "0");

    // The site's shared side: ciphertext, signatures, a receipt and progress lines only.
    const jobDir = `${site.SITE_REMOTE_DIR}/jobs/${job}`;
    const listing = await remote(site, `ls -la ${jobDir}`);
    assert.match(listing, /run\.sh\.sig/);
    assert.match(listing, /receipt\.json/);
    const bytes = await Deno.readFile(`${input}.cfl`);
    const needle = [...bytes.subarray(4096, 4096 + 32)]
      .map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
    const hits = await remote(
      site,
      `grep -rlaF -e shepp_logan -e output_fft -e 'bart fft' ${jobDir}; ` +
        `LC_ALL=C grep -rlaP '${needle}' ${jobDir}; true`,
    );
    assert.equal(hits.trim(), "", `plaintext found in:\n${hits}`);
    const log = await remote(site, `cat ${jobDir}/slurm-*.out`);
    assert.match(log, /sealbatch/);
    assert.doesNotMatch(log, /shepp_logan|output_fft|\.cfl|\.hdr/);

    // The client's memory-backed work space is gone.
    const memory = mem.env.XDG_RUNTIME_DIR;
    if (memory) assert.deepEqual([...Deno.readDirSync(memory)], []);
  },
});
