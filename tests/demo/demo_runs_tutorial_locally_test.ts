/**
 * `sealbatch demo` on this machine: the tutorial's BART job goes through the
 * whole pipeline with the local executor, the PNG decodes, the reconstruction
 * is byte-identical to bart run directly on the plaintext, the table is
 * printed, and the stand-in shared file system and the Slurm log hold no
 * plaintext (no input or output bytes, no file names, no command, no token).
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";
import { DEMO_MARKER } from "../../src/demo/demo.ts";
import { MEMORY_AVAILABLE, memoryDir } from "../run/_memory.ts";

const HAS_BART = await hasProgram("bart");

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...(await filesUnder(path)));
    else if (e.isFile) out.push(path);
  }
  return out;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A 64-byte window of a file that is not all one value (k-space has long runs of zeros). */
async function sampleOf(path: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  for (let at = Math.floor(bytes.length / 2); at + 64 <= bytes.length; at += 64) {
    const window = bytes.subarray(at, at + 64);
    if (new Set(window).size > 8) return window;
  }
  throw new Error(`no varied window in ${path}`);
}

Deno.test({
  name: "sealbatch demo runs the tutorial locally: PNG, bart-identical results, table, " +
    "no plaintext on the shared side",
  ignore: !HAS_BART || !MEMORY_AVAILABLE,
  async fn() {
    await using mem = await memoryDir();
    await using tmp = await tempDir("sealbatch-demo-test");
    const dir = `${tmp.path}/demo`;
    // An earlier demo's directory is reused; what it held is replaced.
    await Deno.mkdir(`${dir}/project`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${DEMO_MARKER}`, "");
    await Deno.writeTextFile(`${dir}/project/stale.txt`, "from an earlier demo");

    // A relative --dir: the node side runs elsewhere (in the job directory).
    const r = await runCli(["demo", "--dir", "demo"], { env: mem.env, cwd: tmp.path });
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(Deno.stat(`${dir}/project/stale.txt`), Deno.errors.NotFound);

    // The table: every step of the pipeline with its protection and time, and a total.
    assert.match(r.stdout, /^step\s+protected by\s+time$/m);
    for (
      const step of ["vault", "keys", "seal-input", "escrow", "seal-job", "upload", "wait"]
        .concat(["verify-receipt", "open-results", "revoke", "view"])
    ) {
      assert.match(r.stdout, new RegExp(`^${step}\\s+\\S.*\\s\\d+\\.\\d+ s$`, "m"), step);
    }
    assert.match(r.stdout, /^total\s+\d+\.\d+ s$/m);
    assert.match(r.stdout, new RegExp(`reconstruction \\(PNG\\): ${dir}/reconstruction\\.png`));

    const png = decode(await Deno.readFile(`${dir}/reconstruction.png`));
    assert.equal(png.width, 256);
    assert.equal(png.height, 256);
    assert.ok(new Set(png.data).size > 4, "the image is not blank");

    // The same job run directly on the plaintext gives the same bytes.
    const input = `${dir}/project/input/shepp_logan`;
    await exec("bart", ["fft", "-u", "-i", "3", input, `${tmp.path}/direct`]);
    assert.deepEqual(
      await Deno.readFile(`${dir}/project/results/output_fft.cfl`),
      await Deno.readFile(`${tmp.path}/direct.cfl`),
    );
    // BART records its command line (with paths) in the header: compare the dimensions.
    const dims = async (hdr: string) =>
      (await Deno.readTextFile(hdr)).match(/# Dimensions\n(.*)\n/)?.[1];
    assert.equal(
      await dims(`${dir}/project/results/output_fft.hdr`),
      "256 256 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ",
    );
    assert.equal(
      await dims(`${tmp.path}/direct.hdr`),
      await dims(`${dir}/project/results/output_fft.hdr`),
    );

    // The stand-in shared file system: ciphertext, signatures, progress lines, a receipt.
    const secrets = [
      await sampleOf(`${input}.cfl`),
      await sampleOf(`${dir}/project/results/output_fft.cfl`),
      ...["shepp_logan", "output_fft", "bart fft", "hvs."].map((s) => new TextEncoder().encode(s)),
    ];
    const shared = await filesUnder(`${dir}/shared`);
    const logs = shared.filter((f) => /\/slurm-local-\d+\.out$/.test(f));
    assert.equal(logs.length, 1);
    assert.ok(shared.some((f) => f.endsWith("/run.sh")));
    for (const file of shared) {
      const bytes = await Deno.readFile(file);
      for (const s of secrets) assert.ok(!contains(bytes, s), `plaintext in ${file}`);
    }
    const log = await Deno.readTextFile(logs[0]!);
    assert.match(log, /job ended with status 0/);

    // The node's memory-backed work root is gone.
    const memory = mem.env.XDG_RUNTIME_DIR;
    if (memory) assert.deepEqual([...Deno.readDirSync(memory)], []);
  },
});

Deno.test("sealbatch demo refuses a non-empty directory that no demo made, before any work", async () => {
  await using tmp = await tempDir("sealbatch-demo-test");
  await Deno.writeTextFile(`${tmp.path}/notes.txt`, "mine");
  const r = await runCli(["demo", "--dir", tmp.path]);
  assert.equal(r.code, 3, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /is not empty/);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["notes.txt"]);
});

Deno.test("sealbatch demo: --sign-key without --site is a usage error", async () => {
  const r = await runCli(["demo", "--sign-key", "k.asc"]);
  assert.equal(r.code, 2, r.stderr);
  assertOneLineError(r.stderr);
});
