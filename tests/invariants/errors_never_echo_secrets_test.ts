/**
 * Invariant: a failure never repeats a secret. Each case feeds a command a
 * secret-bearing input that makes it fail (wrong passphrase, bad or unknown
 * token, key file with the wrong mode or content, key material given on the
 * command line) and checks the exit code, the one error line, and that no
 * form of the secret is on stdout or stderr.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { makeTestImage } from "../image/_sif_images.ts";
import { mountTmpfs, startTlsVault } from "../kms/_helpers.ts";
import { currentUser } from "../node/_fixture.ts";
import { assertNoSecrets, IS_ROOT, keyMaterialLine, privateFile, randomHex } from "./_helpers.ts";

function assertCleanFailure(
  r: CliResult,
  code: number,
  secrets: Record<string, string | Uint8Array>,
): void {
  assert.equal(r.code, code, r.stderr);
  assertOneLineError(r.stderr);
  assertNoSecrets(r.stdout + r.stderr, secrets, "the output");
}

Deno.test("job seal: a wrong or exposed passphrase file is refused without echoing either passphrase", async () => {
  await using dir = await tempDir();
  const right = `right-${randomHex()}`;
  const wrong = `wrong-${randomHex()}`;
  await privateFile(`${dir.path}/right`, right);
  const gen = await runCli([
    "keygen",
    "--kind",
    "user",
    "--name",
    "alice",
    "--email",
    "a@example.org",
    "--out",
    dir.path,
    "--passphrase-file",
    `${dir.path}/right`,
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  const node = await runCli([
    "keygen",
    "--kind",
    "node",
    "--name",
    "node",
    "--email",
    "n@example.org",
    "--out",
    dir.path,
  ]);
  assert.equal(node.code, 0, node.stderr);
  await Deno.writeTextFile(`${dir.path}/cmd.sh`, "#!/bin/bash\ntrue\n");
  const seal = (pw: string) =>
    runCli([
      "job",
      "seal",
      "--command",
      `${dir.path}/cmd.sh`,
      "--node-key",
      `${dir.path}/node.pub.asc`,
      "--sign-key",
      `${dir.path}/alice.sec.asc`,
      "--passphrase-file",
      pw,
      "--out",
      `${dir.path}/job`,
    ]);
  await privateFile(`${dir.path}/wrong`, `${wrong}\n`);
  const r = await seal(`${dir.path}/wrong`);
  assertCleanFailure(r, 3, { right, wrong });
  assert.match(r.stderr, /wrong passphrase/);

  await Deno.writeTextFile(`${dir.path}/exposed`, `${right}\n`);
  await Deno.chmod(`${dir.path}/exposed`, 0o644);
  const exposed = await seal(`${dir.path}/exposed`);
  assertCleanFailure(exposed, 3, { right });
  assert.match(exposed.stderr, /readable by group or others/);
  await assert.rejects(Deno.lstat(`${dir.path}/job`), Deno.errors.NotFound);
});

Deno.test("keys escrow: a malformed or unknown token and an exposed key file are never echoed", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path, `root-${randomHex()}`);
  const key = `luks-${randomHex(24)}`;
  await privateFile(`${dir.path}/luks.key`, key);
  const escrow = (token: string, keyFile = "luks.key") =>
    runCli([
      "keys",
      "escrow",
      "--job",
      `j-${randomHex(4)}`,
      "--key",
      `luks=${keyFile}`,
      "--out",
      `c-${randomHex(4)}.json`,
    ], {
      cwd: dir.path,
      env: {
        VAULT_ADDR: vault.addr,
        VAULT_CACERT: vault.pki.ca,
        VAULT_TOKEN: token,
        USER: "alice",
      },
    });

  const malformed = `hvs.${randomHex()} ${randomHex()}`;
  const m = await escrow(malformed);
  assertCleanFailure(m, 3, {
    "token part 1": malformed.split(" ")[0]!,
    "token part 2": malformed.split(" ")[1]!,
  });
  assert.match(m.stderr, /malformed VAULT_TOKEN/);

  const unknown = `hvs.${randomHex(20)}`;
  const u = await escrow(unknown);
  assertCleanFailure(u, 7, { token: unknown });

  await Deno.writeTextFile(`${dir.path}/open.key`, key);
  await Deno.chmod(`${dir.path}/open.key`, 0o644);
  const o = await escrow(vault.rootToken, "open.key");
  assertCleanFailure(o, 3, { key, "root token": vault.rootToken });
  assert.match(o.stderr, /readable by group or others/);
});

Deno.test("image inspect: key material on the command line is refused unread; a garbled key file is not echoed", async () => {
  await using dir = await tempDir();
  const keys = await generateImageKeyPair(2048);
  const sif = `${dir.path}/app.sif`;
  await makeTestImage(sif, { kind: "plain" });
  const material = keyMaterialLine(keys.privatePem);

  for (const given of [keys.privatePem, ` ${keys.privatePem}`]) {
    const r = await runCli(["image", "inspect", sif, "--key", given]);
    assertCleanFailure(r, 2, { "private key": material });
    assert.match(r.stderr, /--key takes the path/);
  }

  const garbled = `-----BEGIN RSA PRIVATE KEY-----\n${material}\n-----END RSA PRIVATE KEY-----\n`;
  await privateFile(`${dir.path}/bad.pem`, garbled);
  const g = await runCli(["image", "inspect", sif, "--key", `${dir.path}/bad.pem`]);
  assertCleanFailure(g, 3, { "private key": material });

  // An OpenPGP secret key given where the image key belongs.
  const pgp = await runCli([
    "keygen",
    "--kind",
    "node",
    "--name",
    "n",
    "--email",
    "n@example.org",
    "--out",
    dir.path,
  ]);
  assert.equal(pgp.code, 0, pgp.stderr);
  const pgpMaterial = keyMaterialLine(await Deno.readTextFile(`${dir.path}/n.sec.asc`));
  const p = await runCli(["image", "inspect", sif, "--key", `${dir.path}/n.sec.asc`]);
  assertCleanFailure(p, 3, { "OpenPGP key": pgpMaterial });
});

Deno.test("node decrypt-and-execute: an exposed node key is refused without echoing it", async () => {
  await using dir = await tempDir();
  const user = await currentUser();
  for (const [kind, name] of [["user", "alice"], ["node", "node"]]) {
    const gen = await runCli([
      "keygen",
      "--kind",
      kind!,
      "--name",
      name!,
      "--email",
      `${name}@example.org`,
      "--out",
      dir.path,
    ]);
    assert.equal(gen.code, 0, gen.stderr);
  }
  await Deno.writeTextFile(`${dir.path}/cmd.sh`, `#!/bin/bash\ntouch '${dir.path}/ran'\n`);
  const sealed = await runCli([
    "job",
    "seal",
    "--command",
    `${dir.path}/cmd.sh`,
    "--node-key",
    `${dir.path}/node.pub.asc`,
    "--sign-key",
    `${dir.path}/alice.sec.asc`,
    "--user",
    user,
    "--out",
    `${dir.path}/job`,
  ]);
  assert.equal(sealed.code, 0, sealed.stderr);
  await Deno.mkdir(`${dir.path}/signers`);
  await Deno.copyFile(`${dir.path}/alice.pub.asc`, `${dir.path}/signers/${user}.asc`);
  const nodeKey = `${dir.path}/node.sec.asc`;
  await Deno.chmod(nodeKey, 0o644);
  const r = await runCli([
    "node",
    "decrypt-and-execute",
    "--script",
    `${dir.path}/job/run.sh`,
    "--signers",
    `${dir.path}/signers`,
    "--node-key",
    nodeKey,
    "--state",
    `${dir.path}/state`,
    "--user",
    user,
  ], { stdin: "", env: { SUDO_UID: "", SUDO_USER: "" } });
  // The job verified, so the failure is the node key's own check.
  assertCleanFailure(r, 3, { "node key": keyMaterialLine(await Deno.readTextFile(nodeKey)) });
  assert.match(r.stderr, /node key .*readable by group or others/);
  await assert.rejects(Deno.lstat(`${dir.path}/ran`), Deno.errors.NotFound);
});

Deno.test({
  name: "node fetch-keys: a malformed or unknown token is never echoed (root: tmpfs)",
  ignore: !IS_ROOT,
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path, `root-${randomHex()}`);
    await using shm = await mountTmpfs(dir.path);
    const creds = (token: string) => ({
      v: 1,
      kind: "sealbatch-credentials",
      mode: "job-scoped",
      job: "j1",
      user: "alice",
      vault_addr: vault.addr,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      keys: [{ name: "luks", path: "secret/data/sealbatch/alice/j1/luks", token }],
    });
    const fetch = async (token: string) => {
      const file = `${shm.path}/creds-${randomHex(4)}.json`;
      await privateFile(file, JSON.stringify(creds(token)));
      return await runCli(["node", "fetch-keys", "--credentials", file], {
        env: { VAULT_CACERT: vault.pki.ca, XDG_RUNTIME_DIR: shm.path },
      });
    };
    const malformed = `hvs.${randomHex()}"\n${randomHex()}`;
    const m = await fetch(malformed);
    assertCleanFailure(m, 3, {
      "token part 1": malformed.split('"')[0]!,
      "token part 2": malformed.split("\n")[1]!,
    });

    const unknown = `hvs.${randomHex(20)}`;
    const u = await fetch(unknown);
    assertCleanFailure(u, 5, { token: unknown, "root token": vault.rootToken });
    assert.match(u.stderr, /already used or does not exist/);
  },
});
