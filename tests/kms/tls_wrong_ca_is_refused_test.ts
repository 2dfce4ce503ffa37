import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { checkAddr, VaultClient, VaultError } from "../../src/kms/vault_client.ts";
import { makePki, startTlsVault } from "./_helpers.ts";

Deno.test("TLS is always verified: a certificate from another CA is refused, the right CA works", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const other = await makePki(dir.path, "other");
  const wrong = await VaultClient.connect({ addr: vault.addr, caCert: other.ca, retries: 0 });
  try {
    await assert.rejects(
      () => wrong.health(),
      (e: unknown) =>
        e instanceof VaultError && /TLS verification/.test(e.message) &&
        /--ca-cert|VAULT_CACERT/.test(e.hint ?? ""),
    );
  } finally {
    wrong.close();
  }
  const system = await VaultClient.connect({ addr: vault.addr, retries: 0 });
  try {
    await assert.rejects(() => system.health(), /TLS verification/);
  } finally {
    system.close();
  }
  const right = await vault.root();
  assert.equal((await right.health()).status, 200);
});

Deno.test("plain http is refused except on loopback", () => {
  assert.throws(() => checkAddr("http://vault.example.org:8200"), /must be reached over https/);
  assert.equal(checkAddr("http://127.0.0.1:8200/"), "http://127.0.0.1:8200");
  assert.equal(checkAddr("https://vault.example.org:8200"), "https://vault.example.org:8200");
  assert.throws(() => checkAddr("https://user:pw@vault.example.org"), /invalid Vault address/);
});
