import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { VaultError } from "../../src/kms/vault_client.ts";
import { raw, startTlsVault } from "./_helpers.ts";

const INVALID_WRAP = { errors: ["wrapping token is not valid or does not exist"] };

Deno.test("response wrapping: lookup does not consume, unwrap works once, rewrap replaces", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  await root.kvWrite("secret", "jobs/42/luks", { key: "s3cret" });

  const w = await root.kvReadWrapped("secret", "jobs/42/luks", 600);
  assert.equal(w.creation_path, "secret/data/jobs/42/luks");
  assert.equal(w.ttl, 600);
  for (let i = 0; i < 3; i++) {
    assert.equal((await root.wrapLookup(w.token))?.creation_path, "secret/data/jobs/42/luks");
  }
  // Rewrap: the old token stops working, the new one has the same creation path and TTL.
  const r = await root.rewrap(w.token);
  assert.notEqual(r.token, w.token);
  assert.equal(r.creation_path, w.creation_path);
  assert.equal(r.ttl, 600);
  assert.equal(await root.wrapLookup(w.token), null);

  const body = await root.unwrap(r.token);
  assert.deepEqual((body.data as { data: unknown }).data, { key: "s3cret" });
  assert.equal(body.mount_type, "kv");
  // A second unwrap: HTTP 400 with Vault's exact text, never retried.
  const before = root.attempts;
  await assert.rejects(
    () => root.unwrap(r.token),
    (e: unknown) => e instanceof VaultError && e.status === 400 && e.invalidWrappingToken,
  );
  assert.equal(root.attempts - before, 1);
  const again = await raw(vault, "POST", "sys/wrapping/unwrap", { token: r.token });
  assert.deepEqual([again.status, again.body], [400, INVALID_WRAP]);
  const lookup = await raw(vault, "POST", "sys/wrapping/lookup", { body: { token: r.token } });
  assert.deepEqual([lookup.status, lookup.body], [400, INVALID_WRAP]);

  // sys/wrapping/wrap needs the wrap header; a wrapped token create reports the inner accessor.
  const nowrap = await raw(vault, "POST", "sys/wrapping/wrap", {
    token: vault.rootToken,
    body: { a: "b" },
  });
  assert.deepEqual(nowrap.body, { errors: ["endpoint requires response wrapping to be used"] });
  const ww = await root.wrap({ a: "b" }, 60);
  assert.equal(ww.creation_path, "sys/wrapping/wrap");
  const tw = await root.tokenCreateWrapped({ num_uses: 1 }, 60);
  assert.equal(tw.creation_path, "auth/token/create");
  assert.ok(tw.wrapped_accessor && tw.wrapped_accessor !== tw.accessor);
});

Deno.test("an expired wrapping token is refused like a used one", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  const w = await root.wrap({ secret: "x" }, 1);
  assert.ok(await root.wrapLookup(w.token));
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await root.wrapLookup(w.token), null);
  const res = await raw(vault, "POST", "sys/wrapping/unwrap", { token: w.token });
  assert.deepEqual([res.status, res.body], [400, INVALID_WRAP]);
});
