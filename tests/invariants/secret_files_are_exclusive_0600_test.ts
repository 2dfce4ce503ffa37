/**
 * Invariant: every command that writes a key or credential creates it
 * exclusively with mode 0600, also under umask 000, and refuses a target that
 * already exists as a file or as a symlink (never following the link):
 * keygen, image keygen, keys escrow --out (and its record), node fetch-keys.
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";
import { writeSecretFile } from "../../src/util/secret_file.ts";
import { mountTmpfs, startTlsVault } from "../kms/_helpers.ts";
import { IS_ROOT, privateFile, randomHex } from "./_helpers.ts";

const mode = async (path: string) => ((await Deno.lstat(path)).mode ?? 0) & 0o777;

/** Run the CLI with umask 000 (children inherit the umask). */
async function underUmask0(
  args: string[],
  opts: Parameters<typeof runCli>[1] = {},
): Promise<CliResult> {
  const old = Deno.umask(0);
  try {
    return await runCli(args, opts);
  } finally {
    Deno.umask(old);
  }
}

/** A dangling symlink at `path` pointing into `dir`; returns the link's target. */
async function danglingLink(path: string, dir: string): Promise<string> {
  const target = `${dir}/link-target-${randomHex(4)}`;
  await Deno.symlink(target, path);
  return target;
}

async function assertRefusedKeepsLink(r: CliResult, link: string, target: string) {
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /already exists/);
  assert.ok((await Deno.lstat(link)).isSymlink, "the symlink was replaced");
  await assert.rejects(Deno.lstat(target), Deno.errors.NotFound, "the symlink was followed");
}

Deno.test("writeSecretFile refuses a dangling symlink and never creates its target", async () => {
  await using dir = await tempDir();
  const target = await danglingLink(`${dir.path}/k.key`, dir.path);
  await assert.rejects(() => writeSecretFile(`${dir.path}/k.key`, "secret"), /already exists/);
  await assert.rejects(Deno.lstat(target), Deno.errors.NotFound);
});

Deno.test("keygen: secret key 0600 under umask 000; an existing file or symlink is refused", async () => {
  await using dir = await tempDir();
  const keygen = (name: string) => [
    "keygen",
    "--kind",
    "user",
    "--name",
    name,
    "--email",
    "a@example.org",
    "--out",
    dir.path,
  ];
  const ok = await underUmask0(keygen("alice"));
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await mode(`${dir.path}/alice.sec.asc`), 0o600);

  await Deno.writeTextFile(`${dir.path}/bob.sec.asc`, "old");
  const existing = await underUmask0(keygen("bob"));
  assert.equal(existing.code, 3, existing.stderr);
  assert.equal(await Deno.readTextFile(`${dir.path}/bob.sec.asc`), "old");

  const target = await danglingLink(`${dir.path}/carol.sec.asc`, dir.path);
  await assertRefusedKeepsLink(
    await underUmask0(keygen("carol")),
    `${dir.path}/carol.sec.asc`,
    target,
  );
  await assert.rejects(Deno.lstat(`${dir.path}/carol.pub.asc`), Deno.errors.NotFound);
});

Deno.test("image keygen: rsa_pri.pem 0600 in a 0700 dir under umask 000; symlinks refused", async () => {
  await using dir = await tempDir();
  const ok = await underUmask0(["image", "keygen", "--out", `${dir.path}/k`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await mode(`${dir.path}/k/rsa_pri.pem`), 0o600);
  assert.equal(await mode(`${dir.path}/k`), 0o700);

  await Deno.mkdir(`${dir.path}/l`);
  const target = await danglingLink(`${dir.path}/l/rsa_pri.pem`, dir.path);
  const r = await underUmask0(["image", "keygen", "--out", `${dir.path}/l`]);
  await assertRefusedKeepsLink(r, `${dir.path}/l/rsa_pri.pem`, target);
  await assert.rejects(Deno.lstat(`${dir.path}/l/rsa_pub.pem`), Deno.errors.NotFound);
});

Deno.test("keys escrow: credentials and record 0600 under umask 000; a symlink at --out is refused before Vault", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path, `root-${randomHex()}`);
  await privateFile(`${dir.path}/luks.key`, `luks-${randomHex()}`);
  const env = {
    VAULT_ADDR: vault.addr,
    VAULT_CACERT: vault.pki.ca,
    VAULT_TOKEN: vault.rootToken,
    USER: "alice",
  };
  const escrow = (
    job: string,
  ) => ["keys", "escrow", "--job", job, "--key", "luks=luks.key", "--out", `${job}.json`];

  const ok = await underUmask0(escrow("j1"), { cwd: dir.path, env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await mode(`${dir.path}/j1.json`), 0o600);
  assert.equal(await mode(`${dir.path}/.sealbatch/jobs/j1/keys.json`), 0o600);
  assert.equal(await mode(`${dir.path}/.sealbatch/jobs/j1`), 0o700);

  const target = await danglingLink(`${dir.path}/j2.json`, dir.path);
  const root = await vault.root();
  await assertRefusedKeepsLink(
    await underUmask0(escrow("j2"), { cwd: dir.path, env }),
    `${dir.path}/j2.json`,
    target,
  );
  assert.equal(await root.kvRead("secret", "sealbatch/alice/j2/luks"), null, "escrowed anyway");
});

Deno.test({
  name:
    "node fetch-keys: key files 0600 under umask 000; a symlink in the key dir is refused before unwrapping (root)",
  ignore: !IS_ROOT,
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path, `root-${randomHex()}`);
    await using shm = await mountTmpfs(dir.path);
    await privateFile(`${dir.path}/luks.key`, `luks-${randomHex()}`);
    const env = {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: vault.pki.ca,
      VAULT_TOKEN: vault.rootToken,
      USER: "alice",
      XDG_RUNTIME_DIR: shm.path,
    };
    for (const job of ["f1", "f2"]) {
      const r = await runCli(
        [
          "keys",
          "escrow",
          "--job",
          job,
          "--key",
          "luks=luks.key",
          "--out",
          `${shm.path}/${job}.json`,
        ],
        { cwd: dir.path, env },
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const fetch = (job: string) => [
      "node",
      "fetch-keys",
      "--credentials",
      `${shm.path}/${job}.json`,
      "--out",
      `${shm.path}/keys-${job}`,
    ];
    const ok = await underUmask0(fetch("f1"), { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await mode(`${shm.path}/keys-f1/luks`), 0o600);
    assert.equal(await mode(`${shm.path}/keys-f1`), 0o700);

    await Deno.mkdir(`${shm.path}/keys-f2`, { mode: 0o700 });
    const target = await danglingLink(`${shm.path}/keys-f2/luks`, shm.path);
    await assertRefusedKeepsLink(
      await underUmask0(fetch("f2"), { env }),
      `${shm.path}/keys-f2/luks`,
      target,
    );
    // Nothing was unwrapped: the credential is still unused.
    const creds = JSON.parse(await Deno.readTextFile(`${shm.path}/f2.json`));
    const root = await vault.root();
    assert.notEqual(await root.wrapLookup(creds.keys[0].token), null, "the credential was spent");
  },
});
