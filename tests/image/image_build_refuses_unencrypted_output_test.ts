/**
 * `image build` drives `apptainer build --pem-path` and keeps only encrypted
 * results. Apptainer cannot be installed where these tests run, so a
 * recording STAND-IN (tests/_helpers/apptainer-standin) is put on PATH: it
 * records its argv and writes a real SIF with the test writer, encrypted or
 * not as each test asks.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { apptainerStandin } from "./_standin.ts";

const noCryptsetup = !(await hasProgram("cryptsetup"));
const keys = await generateImageKeyPair(2048);

async function setup(dir: string) {
  await Deno.writeTextFile(`${dir}/app.def`, "Bootstrap: docker\nFrom: debian:12\n");
  await Deno.writeTextFile(`${dir}/rsa_pub.pem`, keys.publicPem);
  await Deno.writeTextFile(`${dir}/rsa_pri.pem`, keys.privatePem, { mode: 0o600 });
  return { def: `${dir}/app.def`, pub: `${dir}/rsa_pub.pem`, out: `${dir}/app.sif` };
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test({
  name: "build with the stand-in: argv recorded, LUKS2 result kept and its key checks out" +
    (noCryptsetup ? " (skipped: cryptsetup missing)" : ""),
  ignore: noCryptsetup,
  fn: async () => {
    await using dir = await tempDir();
    await using standin = await apptainerStandin({ build: "luks2" });
    const f = await setup(dir.path);
    const r = await runCli(["image", "build", f.def, "--pem", f.pub, "--out", f.out], {
      env: standin.env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /INFO: +Starting build from/, "runtime output is streamed");
    assert.match(r.stdout, /stand-in: %post would run here/);
    assert.match(r.stdout, /built .*app\.sif: encrypted, format luks2/);
    assert.match(r.stdout, /setuid Apptainer install/);
    const [call] = await standin.calls();
    assert.deepEqual(call!.argv.slice(0, 3), ["build", "--pem-path", f.pub]);
    assert.match(
      call!.argv[3]!,
      /\/\.app\.sif\.[0-9a-f]{8}\.partial$/,
      "builds to a temporary sibling",
    );
    assert.equal(call!.argv[4], f.def);
    const check = await runCli([
      "--json",
      "image",
      "inspect",
      f.out,
      "--key",
      `${dir.path}/rsa_pri.pem`,
    ]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(JSON.parse(check.stdout).keyCheck.luks2Opens, true);
    assert.deepEqual(await listDir(dir.path), ["app.def", "app.sif", "rsa_pri.pem", "rsa_pub.pem"]);
  },
});

Deno.test("build with the stand-in as singularity, gocryptfs format: kept, --json result", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin({ build: "gocryptfs" }, "singularity");
  const f = await setup(dir.path);
  const r = await runCli(["--json", "image", "build", f.def, "--pem", f.pub, "--out", f.out], {
    env: standin.env,
  });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.runtime, "singularity");
  assert.equal(out.format, "gocryptfs");
  assert.match(out.explanation, /user namespaces and FUSE/);
  assert.match(
    r.stderr,
    /stand-in: %post would run here/,
    "runtime stdout goes to stderr with --json",
  );
});

Deno.test("build refuses and removes an unencrypted result (exit 4)", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin({ build: "plain" });
  const f = await setup(dir.path);
  const r = await runCli(["image", "build", f.def, "--pem", f.pub, "--out", f.out], {
    env: standin.env,
  });
  assert.equal(r.code, 4, r.stderr);
  assert.match(
    r.stderr,
    /sealbatch: error: refusing the image apptainer built: it is not encrypted \(format plain\); it was removed/,
  );
  assert.equal((await standin.calls()).length, 1);
  assert.deepEqual(await listDir(dir.path), ["app.def", "rsa_pri.pem", "rsa_pub.pem"]);
});

Deno.test("build failures: runtime error exits 9; bad inputs exit 3 before the runtime runs", async () => {
  await using dir = await tempDir();
  await using standin = await apptainerStandin({ build: "fail" });
  const f = await setup(dir.path);
  const failed = await runCli(["image", "build", f.def, "--pem", f.pub, "--out", f.out], {
    env: standin.env,
  });
  assert.equal(failed.code, 9, failed.stderr);
  assert.match(failed.stderr, /cannot build image: apptainer failed \(exit status 255\)/);
  assert.deepEqual(await listDir(dir.path), ["app.def", "rsa_pri.pem", "rsa_pub.pem"]);

  const calls = (await standin.calls()).length;
  const privateAsPem = await runCli(
    ["image", "build", f.def, "--pem", `${dir.path}/rsa_pri.pem`, "--out", f.out],
    { env: standin.env },
  );
  assert.equal(privateAsPem.code, 3);
  assertOneLineError(privateAsPem.stderr);
  assert.match(privateAsPem.stderr, /not "RSA PUBLIC KEY"/);
  assert.match(privateAsPem.stderr, /never hand it to the build/);

  await Deno.writeTextFile(f.out, "old");
  const exists = await runCli(["image", "build", f.def, "--pem", f.pub, "--out", f.out], {
    env: standin.env,
  });
  assert.equal(exists.code, 3);
  assert.match(exists.stderr, /already exists/);
  assert.equal(await Deno.readTextFile(f.out), "old");
  assert.equal((await standin.calls()).length, calls, "the runtime never ran for bad inputs");
});

const realApptainer = (await hasProgram("apptainer")) || (await hasProgram("singularity"));
Deno.test({
  name: "build without apptainer or singularity on PATH: clear error, exit 9" +
    (realApptainer ? " (skipped: a real runtime is installed)" : ""),
  ignore: realApptainer,
  fn: async () => {
    await using dir = await tempDir();
    const f = await setup(dir.path);
    const r = await runCli(["image", "build", f.def, "--pem", f.pub, "--out", f.out]);
    assert.equal(r.code, 9);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, /neither apptainer nor singularity is installed/);
  },
});
