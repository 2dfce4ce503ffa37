/**
 * Invariant: a client step that fails leaves nothing usable behind. `keys
 * escrow` whose credentials could not be delivered must not leave secrets
 * and live single-use credentials in Vault (nor a record claiming them): an
 * --out in a missing directory is refused before Vault is contacted.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { startTlsVault } from "../kms/_helpers.ts";
import { privateFile, randomHex } from "./_helpers.ts";

Deno.test("keys escrow --out in a missing directory: refused before anything is escrowed", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path, `root-${randomHex()}`);
  await privateFile(`${dir.path}/luks.key`, `luks-${randomHex()}`);
  const r = await runCli(
    ["keys", "escrow", "--job", "j1", "--key", "luks=luks.key", "--out", "no/such/dir/creds.json"],
    {
      cwd: dir.path,
      env: {
        VAULT_ADDR: vault.addr,
        VAULT_CACERT: vault.pki.ca,
        VAULT_TOKEN: vault.rootToken,
        USER: "alice",
      },
    },
  );
  assert.equal(r.code, 3, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /is not a directory/);
  const root = await vault.root();
  assert.equal(
    await root.kvRead("secret", "sealbatch/alice/j1/luks"),
    null,
    "the key was escrowed",
  );
  assert.deepEqual(await root.kvList("secret", "sealbatch/alice"), []);
  await assert.rejects(Deno.lstat(`${dir.path}/.sealbatch/jobs/j1`), Deno.errors.NotFound);
});
