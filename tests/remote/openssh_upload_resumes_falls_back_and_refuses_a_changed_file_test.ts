/**
 * The OpenSSH upload path on both kinds of receiving side: with python3 the
 * receiver hashes while writing (files from 32 MiB on); without it (a private
 * sshd whose PATH has only coreutils and openssl) `cat` writes and the file is
 * hashed afterwards.
 * On both, a partial file that is a prefix is continued and verified, and one
 * that is not a prefix is discarded and the upload starts over, verified. A
 * local file that changes while ssh reads it is refused, and no target appears.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { Transfers } from "../../src/remote/transfer.ts";
import type { SiteConnection } from "../../src/remote/settings.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { sha256File } from "../../src/util/files.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, type SiteEnv, siteEnv } from "./_site.ts";
import { startSshd } from "./_sshd.ts";

const MIB = 1 << 20;

function random(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
  return data;
}

async function resumeAndStartOver(
  env: SiteEnv,
  settings: SiteConnection,
  python: boolean,
): Promise<void> {
  await using tmp = await tempDir();
  await using site = await RemoteSite.connect(settings);
  await using transfers = await Transfers.open(site);
  assert.equal(transfers.via, "openssh");
  const has = await site.transfer.exec("command -v python3 || echo none");
  assert.equal(has.stdout.trim() !== "none", python, has.stdout);

  const data = random(40 * MIB);
  await Deno.writeFile(`${tmp.path}/data.bin`, data);
  await Deno.writeFile(`${tmp.path}/half.bin`, data.subarray(0, 20 * MIB + 123));
  await Deno.writeFile(`${tmp.path}/other.bin`, random(2 * MIB));
  const want = await sha256File(`${tmp.path}/data.bin`);
  const dir = `${env.SITE_REMOTE_DIR}/${scratchName("partial")}`;
  /** Leave `local`'s bytes as the partial upload of `name`. */
  const partial = async (local: string, name: string) => {
    await transfers.upload(`${tmp.path}/${local}`, dir, { name: "p" });
    assert.equal((await site.transfer.exec(`mv ${dir}/p ${dir}/.${name}.sealbatch-part`)).code, 0);
  };
  const remoteSha = async (name: string) =>
    (await site.transfer.exec(`sha256sum ${dir}/${name}; ls -A ${dir}`)).stdout;
  try {
    await partial("half.bin", "a.bin");
    const seen: number[] = [];
    const a = await transfers.upload(`${tmp.path}/data.bin`, dir, {
      name: "a.bin",
      onProgress: (p) => seen.push(p.done),
    });
    assert.equal(a.resumedFrom, 20 * MIB + 123);
    // python3 reports bytes as they arrive; after `cat` only the verified end is reported.
    assert.equal(seen.some((d) => d < 40 * MIB), python, `progress: ${seen.join(" ")}`);
    assert.equal(seen.at(-1), 40 * MIB);
    assert.equal(a.sha256, want);
    assert.match(await remoteSha("a.bin"), new RegExp(`^${want} `));

    await partial("other.bin", "b.bin");
    const b = await transfers.upload(`${tmp.path}/data.bin`, dir, { name: "b.bin" });
    assert.equal(b.resumedFrom, 0, "a partial file that is not a prefix is not continued");
    assert.equal(b.sha256, want);
    const listing = await remoteSha("b.bin");
    assert.match(listing, new RegExp(`^${want} `));
    assert.doesNotMatch(listing, /sealbatch-part/);
  } finally {
    await site.transfer.exec(`rm -rf -- ${dir}`);
  }
}

Deno.test({
  name: "receiving side with python3: a prefix is continued, anything else starts over",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await resumeAndStartOver(env, connection(env, { bulk: "openssh" }), true);
  },
});

Deno.test({
  name: "receiving side without python3: cat writes, the file is hashed afterwards",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using bin = await tempDir("sealbatch-nopython");
    await Deno.chmod(bin.path, 0o755);
    for (
      const tool of [
        "cat",
        "head",
        "ls",
        "mkdir",
        "mv",
        "openssl",
        "rm",
        "sha256sum",
        "stat",
        "tail",
      ]
    ) {
      await Deno.symlink(`/usr/bin/${tool}`, `${bin.path}/${tool}`);
    }
    await using sshd = await startSshd(env, { extraConfig: `SetEnv PATH=${bin.path}` });
    const settings = connection(env, {
      login: { host: "127.0.0.1", port: sshd.port, user: env.SITE_USER! },
      knownHosts: sshd.knownHosts,
      bulk: "openssh",
    });
    await resumeAndStartOver(env, settings, false);
  },
});

Deno.test({
  name: "a local file that changes during the upload is refused; no target appears",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir();
    await using site = await RemoteSite.connect(connection(env, { bulk: "openssh" }));
    await using transfers = await Transfers.open(site);
    const local = `${tmp.path}/data.bin`;
    await Deno.writeFile(local, random(40 * MIB));
    const dir = `${env.SITE_REMOTE_DIR}/${scratchName("changed")}`;
    let touched = false;
    try {
      await assert.rejects(
        transfers.upload(local, dir, {
          onProgress: () => {
            if (touched) return;
            touched = true;
            const later = new Date(Date.now() + 5000);
            Deno.utimeSync(local, later, later);
          },
        }),
        (err) =>
          err instanceof SealbatchError && err.kind === "input" &&
          /changed while it was uploaded/.test(err.message),
      );
      assert.ok(touched);
      const left = await site.transfer.exec(`ls -A ${dir}`);
      assert.equal(left.stdout, "", "neither target nor partial file is left");
    } finally {
      await site.transfer.exec(`rm -rf -- ${dir}`);
    }
  },
});
