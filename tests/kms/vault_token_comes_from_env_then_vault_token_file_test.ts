import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { userToken } from "../../src/kms/vault_client.ts";

Deno.test("the user's Vault token: VAULT_TOKEN first, then ~/.vault-token, else a clear error", async () => {
  await using home = await tempDir();
  const saved = { token: Deno.env.get("VAULT_TOKEN"), home: Deno.env.get("HOME") };
  try {
    Deno.env.set("HOME", home.path);
    Deno.env.delete("VAULT_TOKEN");
    await assert.rejects(() => userToken(), /no Vault token/);
    await Deno.writeTextFile(`${home.path}/.vault-token`, "hvs.fromFile\n");
    assert.equal(await userToken(), "hvs.fromFile");
    Deno.env.set("VAULT_TOKEN", "hvs.fromEnv");
    assert.equal(await userToken(), "hvs.fromEnv");
    Deno.env.set("VAULT_TOKEN", "hvs.two words");
    await assert.rejects(
      () => userToken(),
      (e: unknown) =>
        e instanceof Error && /malformed VAULT_TOKEN/.test(e.message) && !e.message.includes("two"),
    );
  } finally {
    if (saved.home !== undefined) Deno.env.set("HOME", saved.home);
    if (saved.token !== undefined) Deno.env.set("VAULT_TOKEN", saved.token);
    else Deno.env.delete("VAULT_TOKEN");
  }
});
