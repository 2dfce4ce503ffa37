/**
 * The sealbatch flavour end to end on one machine: input sealed into a LUKS2
 * container (no output container: the node starts the output side empty), the key escrowed in
 * the Vault stand-in, the rendered script sealed into run.sh (manifest with
 * `results`), then `node decrypt-and-execute` runs it with sealbatch itself as
 * the node command. The results container opens with the job's files and its
 * stdout/stderr/status; the receipt verifies with the node key; the job log
 * (decrypt-and-execute's own stdout/stderr) names no file and shows no data.
 */
import assert from "node:assert/strict";
import { sealDirectory } from "../../src/luks/seal.ts";
import { openContainer } from "../../src/luks/open.ts";
import { escrowJob } from "../../src/kms/escrow.ts";
import { renderSealbatchScript } from "../../src/render/sealbatch.ts";
import { verifyReceipt } from "../../src/job/receipt.ts";
import { selfCommand } from "../../src/util/self.ts";
import { sha256File } from "../../src/util/files.ts";
import { ROOT } from "../_helpers/cli.ts";
import { exec } from "../../src/util/exec.ts";
import { IS_ROOT, startTlsVault } from "../kms/_helpers.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { makeTestImage } from "../image/_sif_images.ts";
import { apptainerStandin } from "../image/_standin.ts";
import { fixture, runNode, seal } from "./_fixture.ts";
import type { Fixture } from "./_fixture.ts";

const INPUT_TEXT = "input-bytes-5d1c9e";
const ERR_TEXT = "stderr-marker-7f3a2b";

/** Node-local memory for keys and rootless data (Deno keeps /dev/shm closed). */
async function mountTmpfs(dir: string) {
  const path = `${dir}/tmpfs`;
  await Deno.mkdir(path, { mode: 0o700 });
  await exec("mount", ["-t", "tmpfs", "-o", "size=256m,mode=700", "tmpfs", path]);
  return {
    path,
    [Symbol.asyncDispose]: () => exec("umount", [path]).then(() => {}, () => {}),
  };
}

/** One job directory: input.img, run.sh(.sig); returns what the checks need. */
async function prepareJob(f: Fixture, name: string, tmpfs: string) {
  const jobDir = `${f.dir}/${name}`;
  const src = `${f.dir}/${name}-src`;
  await Deno.mkdir(`${src}/in`, { recursive: true });
  await Deno.writeTextFile(`${src}/in/a.txt`, `${INPUT_TEXT}\n`);
  await Deno.mkdir(jobDir);
  await Deno.chmod(jobDir, 0o755); // exact, whatever a parallel test's umask
  const key = `${f.dir}/${name}.key`;
  const common = { size: "auto" as const, revealNames: true, workBase: tmpfs };
  await sealDirectory({
    source: `${src}/in`,
    out: `${jobDir}/input.img`,
    key: { path: key, create: true },
    ...common,
  });
  return { jobDir, key };
}

async function runJob(
  f: Fixture,
  vault: Awaited<ReturnType<typeof startTlsVault>>,
  name: string,
  command: string,
  tmpfs: string,
  image?: { env: Record<string, string> },
) {
  const { jobDir, key } = await prepareJob(f, name, tmpfs);
  const keys = [{ name: "luks", file: key }];
  if (image) {
    const pair = await generateImageKeyPair(2048);
    const pem = `${f.dir}/${name}-rsa_pri.pem`;
    await Deno.writeTextFile(pem, pair.privatePem, { mode: 0o600 });
    await makeTestImage(`${jobDir}/image.sif`, { kind: "gocryptfs", publicPem: pair.publicPem });
    keys.push({ name: "image", file: pem });
  }
  const escrow = await escrowJob(await vault.root(), {
    job: name,
    user: f.user,
    keys,
    mode: "job-scoped",
    wrapTtlMs: 3_600_000,
    mount: "secret",
    stateDir: `${f.dir}/client-state`,
  });
  const script = renderSealbatchScript({
    nodeCommand: selfCommand({ mainModule: new URL(`file://${ROOT}/main.ts`).href }),
    credentials: escrow.credentials,
    command,
    ...(image ? { image: { file: "image.sif" as const } } : {}),
    input: "input.img",
    output: "output.img",
    results: "output.results.img",
  });
  const inputs = ["input.img", ...(image ? ["image.sif"] : [])];
  const job = await seal(f, name, {
    command: { text: script },
    inputs: inputs.map((file) => `${jobDir}/${file}`),
    results: "output.results.img",
    jobId: name,
  });
  const res = await runNode(f, { script: job.runScript, ...(image ? { env: image.env } : {}) });
  return { res, job, jobDir, key };
}

/** Open the results container into a fresh directory; returns file -> text. */
async function results(jobDir: string, key: string, tmpfs: string): Promise<Map<string, string>> {
  const out = `${jobDir}-opened`;
  await openContainer({
    image: `${jobDir}/output.results.img`,
    keyPath: key,
    out,
    force: false,
    revealNames: true,
    workBase: tmpfs,
  });
  const files = new Map<string, string>();
  for await (const e of Deno.readDir(out)) {
    if (e.isFile) files.set(e.name, await Deno.readTextFile(`${out}/${e.name}`));
  }
  return files;
}

function assertCleanLog(log: string): void {
  for (const secret of ["a.txt", "b.txt", INPUT_TEXT, ERR_TEXT, "job.stdout", "hvs."]) {
    assert.ok(!log.includes(secret), `the job log shows ${JSON.stringify(secret)}:\n${log}`);
  }
  for (
    const line of ["sealbatch: keys fetched", "sealbatch: job started", "sealbatch: results sealed"]
  ) {
    assert.ok(log.includes(line), `missing progress line ${JSON.stringify(line)}:\n${log}`);
  }
}

Deno.test({
  name:
    "a sealed job's results, stdout, stderr and status land in output.results.img; the receipt verifies",
  // The node's key directory must be on tmpfs; tests mount their own (root).
  ignore: !IS_ROOT,
  fn: async () => {
    await using f = await fixture();
    await using shm = await mountTmpfs(f.dir);
    await using vault = await startTlsVault(f.dir);
    await Deno.writeTextFile(f.config, `work_dir: ${shm.path}\nvault_cacert: ${vault.pki.ca}\n`);

    const ok = await runJob(
      f,
      vault,
      "job-ok",
      `sh -c 'cat {input}/a.txt > {output}/b.txt; echo ${ERR_TEXT} >&2'`,
      shm.path,
    );
    assert.equal(ok.res.code, 0, ok.res.stderr);
    assertCleanLog(ok.res.stdout + ok.res.stderr);
    const files = await results(ok.jobDir, ok.key, shm.path);
    assert.equal(files.get("b.txt"), `${INPUT_TEXT}\n`);
    assert.equal(files.get("job.stdout"), "");
    assert.equal(files.get("job.stderr"), `${ERR_TEXT}\n`);
    assert.equal(files.get("job.status"), "0\n");
    // Rootless, the output side was a private directory: no container was made for it.
    await assert.rejects(Deno.stat(`${ok.jobDir}/output.img`), Deno.errors.NotFound);
    const receipt = await verifyReceipt({
      receipt: await Deno.readFile(`${ok.jobDir}/receipt.json`),
      signature: await Deno.readTextFile(`${ok.jobDir}/receipt.json.sig`),
      nodePublicKey: await Deno.readTextFile(f.nodePub),
      expect: {
        job: "job-ok",
        nonce: ok.job.manifest.nonce,
        resultsSha256: await sha256File(`${ok.jobDir}/output.results.img`),
      },
    });
    assert.equal(receipt.exit_code, 0);
    assert.equal(receipt.user, f.user);
    assert.equal(receipt.signer, ok.job.signer);
    // Nothing of the job is left on the node's private storage.
    assert.deepEqual([...Deno.readDirSync(shm.path)].map((e) => e.name), []);

    const bad = await runJob(
      f,
      vault,
      "job-fails",
      `sh -c 'cat {input}/a.txt; echo ${ERR_TEXT} >&2; exit 3'`,
      shm.path,
    );
    assert.equal(bad.res.code, 3, bad.res.stderr);
    assertCleanLog(bad.res.stdout + bad.res.stderr);
    const failed = await results(bad.jobDir, bad.key, shm.path);
    assert.equal(failed.get("job.stdout"), `${INPUT_TEXT}\n`);
    assert.equal(failed.get("job.stderr"), `${ERR_TEXT}\n`);
    assert.equal(failed.get("job.status"), "3\n");
    const r = await verifyReceipt({
      receipt: await Deno.readFile(`${bad.jobDir}/receipt.json`),
      signature: await Deno.readTextFile(`${bad.jobDir}/receipt.json.sig`),
      nodePublicKey: await Deno.readTextFile(f.nodePub),
      expect: { job: "job-fails", nonce: bad.job.manifest.nonce },
    });
    assert.equal(r.exit_code, 3);
    assert.equal(r.results?.sha256, await sha256File(`${bad.jobDir}/output.results.img`));
  },
});

Deno.test({
  name: "with an image, the command runs through node run-image with /input and /output bound",
  ignore: !IS_ROOT,
  fn: async () => {
    await using f = await fixture();
    await using shm = await mountTmpfs(f.dir);
    await using vault = await startTlsVault(f.dir);
    // Apptainer cannot be installed here: the recording STAND-IN prints its
    // positional arguments and notes whether the key file existed.
    await using standin = await apptainerStandin();
    await Deno.writeTextFile(f.config, `work_dir: ${shm.path}\nvault_cacert: ${vault.pki.ca}\n`);
    const run = await runJob(f, vault, "job-image", "cat {input}/a.txt {image}", shm.path, standin);
    assert.equal(run.res.code, 0, run.res.stderr);
    assertCleanLog(run.res.stdout + run.res.stderr);
    const files = await results(run.jobDir, run.key, shm.path);
    // The image that runs is the node's verified copy in its private directory, not the shared one.
    const sif = `${shm.path}/sealbatch-job-[^/ ]+/inputs/image\\.sif`;
    assert.match(
      files.get("job.stdout")!,
      new RegExp(`^stand-in run: ${sif} cat /input/a.txt ${sif}\n$`),
    );
    assert.equal(files.get("job.status"), "0\n");
    const [call] = await standin.calls();
    assert.ok(call!.keyPresent, "the image key was not there during the run");
    const binds = call!.argv.filter((_, i) => call!.argv[i - 1] === "--bind");
    assert.equal(binds.length, 2);
    assert.match(binds[0]!, new RegExp(`^${shm.path}/.+/input:/input:ro$`));
    assert.match(binds[1]!, new RegExp(`^${shm.path}/.+/output:/output$`));
    assert.deepEqual([...Deno.readDirSync(shm.path)].map((e) => e.name), []);
  },
});
