/**
 * Invariant: no key, token, passphrase or plaintext byte reaches the argv or
 * the environment of any program sealbatch starts (VAULT_TOKEN included).
 * Every program on sealbatch's --allow-run list is replaced by a recording
 * wrapper first on PATH, then the real workflow runs with real secrets:
 * keygen, job seal, node decrypt-and-execute, keys escrow + node fetch-keys
 * against the development server (the Vault stand-in), image inspect --key on
 * a real LUKS2 image (cryptsetup). The recorded argv and env must hold none
 * of them, and must show that the wrapped programs really ran.
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { mountTmpfs, startTlsVault } from "../kms/_helpers.ts";
import { makeTestImage } from "../image/_sif_images.ts";
import { generateImageKeyPair, importPrivateKeyPem } from "../../src/image/keys.ts";
import { keyMessageFor, primaryPartition, SifReader } from "../../src/image/sif.ts";
import { MAX_CRYPTO_MESSAGE_BYTES, unwrapImageKey } from "../../src/image/crypto_message.ts";
import { currentUser } from "../node/_fixture.ts";
import {
  assertNoSecrets,
  IS_ROOT,
  keyMaterialLine,
  privateFile,
  randomHex,
  recordChildren,
  which,
} from "./_helpers.ts";

const hasCryptsetup = which("cryptsetup") !== undefined;

/** Split the log into the programs it recorded. */
function programs(log: string): string[] {
  return [...log.matchAll(/^PROGRAM (\S+)$/gm)].map((m) => m[1]!);
}

Deno.test({
  name: "keygen, job seal and decrypt-and-execute pass no passphrase, key or plaintext to children",
  fn: async () => {
    await using dir = await tempDir();
    const rec = await recordChildren(dir.path);
    const user = await currentUser();
    const passphrase = `pass-${randomHex()}`;
    const plaintext = `plain-${randomHex()}`;
    const vaultToken = `hvs.${randomHex(20)}`;
    const pw = await privateFile(`${dir.path}/pw`, `${passphrase}\n`);
    const env = rec.env({ VAULT_TOKEN: vaultToken, SUDO_UID: "", SUDO_USER: "" });

    for (
      const [kind, name, extra] of [["user", "alice", ["--passphrase-file", pw]], [
        "node",
        "node",
        [],
      ]] as const
    ) {
      const r = await runCli([
        "--json",
        "keygen",
        "--kind",
        kind,
        "--name",
        name,
        "--email",
        `${name}@example.org`,
        "--out",
        `${dir.path}/keys`,
        ...extra,
      ], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    const userSec = await Deno.readTextFile(`${dir.path}/keys/alice.sec.asc`);
    const nodeSec = await Deno.readTextFile(`${dir.path}/keys/node.sec.asc`);

    await Deno.writeTextFile(
      `${dir.path}/command.sh`,
      `#!/bin/bash\n# ${plaintext}\necho job ran > '${dir.path}/ran'\n`,
    );
    const sealed = await runCli([
      "job",
      "seal",
      "--command",
      `${dir.path}/command.sh`,
      "--node-key",
      `${dir.path}/keys/node.pub.asc`,
      "--sign-key",
      `${dir.path}/keys/alice.sec.asc`,
      "--passphrase-file",
      pw,
      "--user",
      user,
      "--out",
      `${dir.path}/job`,
    ], { env });
    assert.equal(sealed.code, 0, sealed.stderr);

    await Deno.mkdir(`${dir.path}/signers`);
    await Deno.copyFile(`${dir.path}/keys/alice.pub.asc`, `${dir.path}/signers/${user}.asc`);
    await Deno.mkdir(`${dir.path}/work`, { mode: 0o711 });
    await Deno.writeTextFile(`${dir.path}/node.yaml`, "work_dir: work\n");
    const runSh = await Deno.readTextFile(`${dir.path}/job/run.sh`);
    const heredoc = runSh.slice(runSh.indexOf("-----BEGIN"), runSh.lastIndexOf("EOF"));
    const ran = await runCli([
      "node",
      "decrypt-and-execute",
      "--config",
      `${dir.path}/node.yaml`,
      "--script",
      `${dir.path}/job/run.sh`,
      "--signers",
      `${dir.path}/signers`,
      "--node-key",
      `${dir.path}/keys/node.sec.asc`,
      "--state",
      `${dir.path}/state`,
      "--user",
      user,
    ], { env, stdin: heredoc });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(await Deno.readTextFile(`${dir.path}/ran`), "job ran\n");

    const log = await rec.read();
    // The wrappers saw the job script and the account lookup: the search below is not vacuous.
    assert.ok(programs(log).includes("bash"), log);
    assert.ok(programs(log).includes("getent"), log);
    assert.match(log, /^ENV PATH=/m);
    assertNoSecrets(log, {
      passphrase,
      plaintext,
      "VAULT_TOKEN": vaultToken,
      "user secret key": keyMaterialLine(userSec),
      "node secret key": keyMaterialLine(nodeSec),
    }, "a child's argv or environment");
    assert.doesNotMatch(log, /^ENV VAULT_TOKEN=/m);
  },
});

Deno.test({
  name: "keys escrow and node fetch-keys pass no token or key to children (needs root for tmpfs)",
  ignore: !IS_ROOT,
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path, `root-${randomHex()}`);
    await using shm = await mountTmpfs(dir.path);
    const rec = await recordChildren(dir.path);
    const luks = `luks-${randomHex(32)}`;
    await privateFile(`${dir.path}/luks.key`, luks);
    const env = rec.env({
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: vault.pki.ca,
      VAULT_TOKEN: vault.rootToken,
      USER: "alice",
      XDG_RUNTIME_DIR: shm.path,
    });
    const esc = await runCli(
      ["keys", "escrow", "--job", "inv-1", "--key", "luks=luks.key", "--out", "creds.json"],
      { cwd: dir.path, env },
    );
    assert.equal(esc.code, 0, esc.stderr);
    const creds = JSON.parse(await Deno.readTextFile(`${dir.path}/creds.json`));
    await Deno.copyFile(`${dir.path}/creds.json`, `${shm.path}/creds.json`);
    await Deno.chmod(`${shm.path}/creds.json`, 0o600);

    const fetched = await runCli([
      "node",
      "fetch-keys",
      "--credentials",
      `${shm.path}/creds.json`,
      "--out",
      `${shm.path}/keys`,
    ], { env });
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(await Deno.readTextFile(`${shm.path}/keys/luks`), luks);

    const log = await rec.read();
    // fetch-keys asks stat(1) for the file system type: a child that saw the environment.
    assert.ok(programs(log).includes("stat"), log);
    assertNoSecrets(log, {
      "VAULT_TOKEN": vault.rootToken,
      "wrapping token": creds.keys[0].token,
      "LUKS key": luks,
    }, "a child's argv or environment");
    assert.doesNotMatch(log, /^ENV VAULT_TOKEN=/m);
  },
});

Deno.test({
  name:
    "image inspect --key gives cryptsetup the image passphrase on stdin only (needs cryptsetup)",
  ignore: !hasCryptsetup,
  fn: async () => {
    await using dir = await tempDir();
    const rec = await recordChildren(dir.path);
    const keys = await generateImageKeyPair(2048);
    const pri = await privateFile(`${dir.path}/rsa_pri.pem`, keys.privatePem);
    const sif = `${dir.path}/app.sif`;
    await makeTestImage(sif, { kind: "luks2", publicPem: keys.publicPem });
    // The passphrase the image's wrapped key holds: what must stay off argv and env.
    await using reader = await SifReader.open(sif);
    const message = keyMessageFor(reader.image, primaryPartition(reader.image)!)!;
    const passphrase = await unwrapImageKey(
      await importPrivateKeyPem(keys.privatePem, "test key"),
      await reader.data(message, MAX_CRYPTO_MESSAGE_BYTES, "message"),
    );
    const runtime = `${dir.path}/runtime`;
    await Deno.mkdir(runtime, { mode: 0o700 });

    const r = await runCli(["--json", "image", "inspect", sif, "--key", pri], {
      env: rec.env({ XDG_RUNTIME_DIR: runtime }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).keyCheck.luks2Opens, true);

    const log = await rec.read();
    assert.ok(programs(log).includes("cryptsetup"), log);
    assertNoSecrets(log, {
      "image passphrase": passphrase,
      "image private key": keyMaterialLine(keys.privatePem),
    }, "cryptsetup's argv or environment");
  },
});
