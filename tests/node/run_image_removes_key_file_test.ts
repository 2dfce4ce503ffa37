/**
 * `node run-image` wraps `apptainer run --pem-path` and removes the key file
 * when the run ends, also on failure. Apptainer cannot be installed where
 * these tests run: a recording STAND-IN (tests/_helpers/apptainer-standin) is
 * put on PATH and records the argv and whether the key existed during the run.
 */
import assert from "node:assert/strict";
import { assertOneLineError, CLI_ARGS, ROOT, runCli, tempDir } from "../_helpers/cli.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { makeTestImage } from "../image/_sif_images.ts";
import { apptainerStandin } from "../image/_standin.ts";

const keys = await generateImageKeyPair(2048);
const gone = (path: string) => Deno.lstat(path).then(() => false, () => true);

async function setup(dir: string) {
  const key = `${dir}/rsa_pri.pem`;
  await Deno.writeTextFile(key, keys.privatePem, { mode: 0o600 });
  const sif = `${dir}/app.sif`;
  await makeTestImage(sif, { kind: "gocryptfs", publicPem: keys.publicPem });
  return { key, sif };
}

Deno.test("run-image: apptainer run --pem-path with binds and args; key removed afterwards", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin();
  const { key, sif } = await setup(dir.path);
  const r = await runCli([
    "node",
    "run-image",
    "--pem-file",
    key,
    "--bind",
    "/data/in:/in:ro",
    "--bind",
    "/data/out:/out",
    sif,
    "--",
    "bart",
    "fft",
    "-u",
  ], { env: standin.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /stand-in run: .*app\.sif bart fft/);
  const [call] = await standin.calls();
  assert.deepEqual(call!.argv, [
    "run",
    "--pem-path",
    key,
    "--bind",
    "/data/in:/in:ro",
    "--bind",
    "/data/out:/out",
    sif,
    "bart",
    "fft",
    "-u",
  ]);
  assert.equal(call!.keyPresent, true, "the key existed while the runtime ran");
  assert.ok(await gone(key), "key file removed after the run");
});

Deno.test("run-image: a failing container exits 8 and the key is still removed", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin({ runExit: 3 });
  const { key, sif } = await setup(dir.path);
  const r = await runCli(["node", "run-image", "--pem-file", key, sif], { env: standin.env });
  assert.equal(r.code, 8, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /exited with status 3 \(apptainer run\)/);
  assert.ok(await gone(key));
});

Deno.test("run-image: a missing image or a public key instead of a private one fails early; key removed", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin();
  const { key } = await setup(dir.path);
  const r = await runCli(["node", "run-image", "--pem-file", key, `${dir.path}/nope.sif`], {
    env: standin.env,
  });
  assert.equal(r.code, 3);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /no such file/);
  assert.ok(await gone(key));

  const { sif } = await setup(dir.path);
  const pub = `${dir.path}/pub.pem`;
  await Deno.writeTextFile(pub, keys.publicPem, { mode: 0o600 });
  const p = await runCli(["node", "run-image", "--pem-file", pub, sif], { env: standin.env });
  assert.equal(p.code, 3);
  assert.match(p.stderr, /this is the public key/);
  assert.deepEqual(await standin.calls(), [], "the runtime never ran");
});

Deno.test("run-image: a --bind with a comma or a relative path is a usage error", async () => {
  await using dir = await tempDir();
  const { key, sif } = await setup(dir.path);
  for (const bind of ["/a:/b,/etc:/x", "rel:/b", "/a"]) {
    const r = await runCli(["node", "run-image", "--pem-file", key, "--bind", bind, sif]);
    assert.equal(r.code, 2, `${bind}: ${r.stderr}`);
    assert.match(r.stderr, /invalid --bind/);
  }
});

const realApptainer = (await hasProgram("apptainer")) || (await hasProgram("singularity"));
Deno.test({
  name: "run-image without apptainer: clear error (exit 9), key removed" +
    (realApptainer ? " (skipped: a real runtime is installed)" : ""),
  ignore: realApptainer,
  fn: async () => {
    await using dir = await tempDir();
    const { key, sif } = await setup(dir.path);
    const r = await runCli(["node", "run-image", "--pem-file", key, sif]);
    assert.equal(r.code, 9);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, /cannot run image: neither apptainer nor singularity is installed/);
    assert.ok(await gone(key));
  },
});

Deno.test("run-image interrupted by SIGTERM while the container runs: key removed, exit 130", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin({ runSleepMs: 3000 });
  const { key, sif } = await setup(dir.path);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      "node",
      "run-image",
      "--pem-file",
      key,
      sif,
    ],
    cwd: ROOT,
    env: { ...standin.env, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Wait until the runtime has started (it records its call first).
  for (let i = 0; i < 100 && (await standin.calls()).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await standin.calls())[0]?.keyPresent, true);
  child.kill("SIGTERM");
  const out = await child.output();
  assert.equal(out.code, 143); // 128 + SIGTERM
  assert.match(new TextDecoder().decode(out.stderr), /interrupted by SIGTERM/);
  assert.ok(await gone(key), "key file removed on interruption");
});
