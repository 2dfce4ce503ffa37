import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { IS_ROOT, keyFile, mountTmpfs, startTlsVault } from "../kms/_helpers.ts";

Deno.test({
  name: "node fetch-keys: a second fetch is refused with exit 5 and writes nothing",
  ignore: !IS_ROOT, // the node-local tmpfs is mounted by the test
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    await using shm = await mountTmpfs(dir.path);
    await keyFile(dir.path, "luks.key", "k1");
    const env = {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: vault.pki.ca,
      VAULT_TOKEN: vault.rootToken,
      XDG_RUNTIME_DIR: shm.path,
    };
    const esc = await runCli(
      [
        "keys",
        "escrow",
        "--job",
        "j1",
        "--key",
        "luks=luks.key",
        "--out",
        `${shm.path}/creds.json`,
      ],
      { cwd: dir.path, env },
    );
    assert.equal(esc.code, 0, esc.stderr);
    // The node has no Vault token: credentials are all it needs.
    const nodeEnv = {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: vault.pki.ca,
      XDG_RUNTIME_DIR: shm.path,
      VAULT_TOKEN: "",
    };
    const first = await runCli(["node", "fetch-keys", "--credentials", `${shm.path}/creds.json`], {
      env: nodeEnv,
    });
    assert.equal(first.code, 0, first.stderr);
    const keyDir = first.stdout.trim();
    assert.ok(keyDir.startsWith(`${shm.path}/`), keyDir);
    assert.equal(await Deno.readTextFile(`${keyDir}/luks`), "k1");

    const second = await runCli(
      [
        "node",
        "fetch-keys",
        "--credentials",
        `${shm.path}/creds.json`,
        "--out",
        `${shm.path}/again`,
      ],
      { env: nodeEnv },
    );
    assert.equal(second.code, 5);
    assertOneLineError(second.stderr);
    assert.match(
      second.stderr,
      /credential for key "luks" of job "j1" was already used or does not exist/,
    );
    assert.match(second.stderr, /used by someone else/);
    await assert.rejects(() => Deno.stat(`${shm.path}/again`), Deno.errors.NotFound);
    const leftovers = [...Deno.readDirSync(shm.path)].map((e) => e.name).sort();
    assert.deepEqual(leftovers, ["creds.json", keyDir.slice(shm.path.length + 1)].sort());
  },
});
