import assert from "node:assert/strict";
import { HEADER_ARGS, HEADER_BYTES, KDF_ARGS, REDUCE_BYTES } from "../../src/luks/cryptsetup.ts";
import { detachForDecrypt } from "../../src/luks/detach.ts";
import { readLuksHeader } from "../../src/luks/header.ts";
import { exec } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";
import { cli, isRoot, sealSample, snapshot } from "./_fixture.ts";

// As non-root every other test in this folder already runs the rootless path;
// as root this one drops to uid 65534 for the cryptsetup and debugfs steps.
if (!isRoot) console.error("skipping unprivileged-user test: already running as non-root");

const NOBODY = ["--reuid", "65534", "--regid", "65534", "--clear-groups"];

async function asNobody(program: string, args: string[], cwd?: string) {
  return await exec("setpriv", [...NOBODY, program, ...args], cwd ? { cwd } : {});
}

async function giveToNobody(path: string): Promise<void> {
  await exec("chown", ["-R", "65534:65534", path]);
}

Deno.test({
  name:
    "as an unprivileged user: the detached-header decrypt and debugfs dump of a sealed container work",
  ignore: !isRoot,
  fn: async () => {
    await using dir = await tempDir();
    await Deno.chmod(dir.path, 0o755);
    const { src, img, key, sealed } = await sealSample(dir.path);
    assert.equal(sealed.code, 0, sealed.stderr);
    const work = `${dir.path}/work`;
    await Deno.mkdir(work);
    await detachForDecrypt(img, await readLuksHeader(img), `${work}/hdr.img`, `${work}/data.img`);
    await Deno.copyFile(key, `${work}/k`);
    await Deno.mkdir(`${work}/out`);
    await giveToNobody(work);
    // The two steps data open runs: prepare (reads only the header), then decrypt.
    const common = [
      "--header",
      `${work}/hdr.img`,
      "--force-offline-reencrypt",
      "--disable-locks",
      "--batch-mode",
      "--key-file",
      `${work}/k`,
      `${work}/data.img`,
    ];
    await asNobody("cryptsetup", [
      "reencrypt",
      "--decrypt",
      "--init-only",
      "--resilience",
      "none",
      ...common,
    ]);
    await asNobody("cryptsetup", ["reencrypt", "--resume-only", ...common]);
    await asNobody("debugfs", ["-R", "rdump / .", `${work}/data.img`], `${work}/out`);
    await Deno.remove(`${work}/out/lost+found`);
    const want = await snapshot(src);
    const got = await snapshot(`${work}/out`);
    for (const [path, node] of want) {
      assert.equal(got.get(path)?.sha, node.sha, path);
      assert.equal(got.get(path)?.target, node.target, path);
    }
  },
});

Deno.test({
  name:
    "as an unprivileged user: mkfs.ext4 -d + reencrypt --encrypt with sealbatch's parameters make a container data open reads",
  ignore: !isRoot,
  fn: async () => {
    await using dir = await tempDir();
    await Deno.chmod(dir.path, 0o755);
    const src = `${dir.path}/src`;
    await Deno.mkdir(src);
    await Deno.writeTextFile(`${src}/a.txt`, "made by nobody\n");
    const img = `${dir.path}/n.img`;
    const key = `${dir.path}/n.key`;
    await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
    await Deno.writeFile(img, new Uint8Array());
    await Deno.truncate(img, 32 * 1024 * 1024);
    await giveToNobody(dir.path);
    await asNobody("mkfs.ext4", ["-q", "-F", "-b", "4096", "-m", "0", "-d", src, img]);
    await Deno.truncate(img, 32 * 1024 * 1024 + REDUCE_BYTES);
    await asNobody("cryptsetup", [
      "reencrypt",
      "--encrypt",
      "--type",
      "luks2",
      "--sector-size",
      "4096",
      ...KDF_ARGS,
      ...HEADER_ARGS,
      "--reduce-device-size",
      `${REDUCE_BYTES / 1024}k`,
      "--force-offline-reencrypt",
      "--disable-locks",
      "--batch-mode",
      "--key-file",
      key,
      img,
    ], dir.path);
    await Deno.truncate(img, HEADER_BYTES + 32 * 1024 * 1024);
    const runtime = `${dir.path}/runtime`;
    await Deno.mkdir(runtime);
    const res = await cli(["data", "open", img, "--key", key, "--out", `${dir.path}/out`], runtime);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "made by nobody\n");
  },
});
