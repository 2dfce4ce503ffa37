import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { VaultError } from "../../src/kms/vault_client.ts";
import { raw, startTlsVault } from "./_helpers.ts";

const ENVELOPE_KEYS = [
  "auth",
  "data",
  "lease_duration",
  "lease_id",
  "mount_type",
  "renewable",
  "request_id",
  "warnings",
  "wrap_info",
];

Deno.test("KV v2 over TLS: round trip, envelope, CAS errors and 404 shapes", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const client = await vault.root();

  assert.equal(await client.kvWrite("secret", "app/db", { password: "p1" }), 1);
  assert.deepEqual(await client.kvRead("secret", "app/db"), { password: "p1" });
  assert.equal(await client.kvWrite("secret", "app/db", { password: "p2" }, { cas: 1 }), 2);

  const read = await raw(vault, "GET", "secret/data/app/db", { token: vault.rootToken });
  assert.equal(read.status, 200);
  assert.deepEqual(Object.keys(read.body!).sort(), ENVELOPE_KEYS);
  assert.equal(read.body!.mount_type, "kv");
  const meta = (read.body!.data as { metadata: Record<string, unknown> }).metadata;
  assert.equal(meta.version, 2);
  assert.equal(meta.deletion_time, "");
  assert.equal(meta.custom_metadata, null);

  // CAS mismatch and cas=0 on an existing secret: Vault's exact text, HTTP 400.
  const mismatch = await raw(vault, "POST", "secret/data/app/db", {
    token: vault.rootToken,
    body: { data: { password: "x" }, options: { cas: 1 } },
  });
  assert.equal(mismatch.status, 400);
  assert.deepEqual(mismatch.body, {
    errors: ["check-and-set parameter did not match the current version"],
  });
  await assert.rejects(
    () => client.kvWrite("secret", "app/db", { password: "x" }, { cas: 0 }),
    (e: unknown) =>
      e instanceof VaultError && e.status === 400 &&
      /check-and-set parameter did not match/.test(e.message),
  );
  const noData = await raw(vault, "POST", "secret/data/app/other", {
    token: vault.rootToken,
    body: {},
  });
  assert.deepEqual([noData.status, noData.body], [400, { errors: ["no data provided"] }]);

  // Never written: 404 with an empty error list; the client reports "no secret".
  const missing = await raw(vault, "GET", "secret/data/app/none", { token: vault.rootToken });
  assert.equal(missing.status, 404);
  assert.equal(missing.text, '{"errors":[]}');
  assert.equal(await client.kvRead("secret", "app/none"), null);

  // Soft-deleted: 404 with a full envelope whose data is null.
  await client.kvDelete("secret", "app/db");
  const deleted = await raw(vault, "GET", "secret/data/app/db", { token: vault.rootToken });
  assert.equal(deleted.status, 404);
  const d = deleted.body!.data as { data: unknown; metadata: { deletion_time: string } };
  assert.equal(d.data, null);
  assert.notEqual(d.metadata.deletion_time, "");

  // Metadata delete removes everything; an empty list is 404 {"errors":[]}.
  assert.deepEqual(await client.kvList("secret", "app"), ["db"]);
  await client.kvDeleteMetadata("secret", "app/db");
  const list = await raw(vault, "LIST", "secret/metadata/app", { token: vault.rootToken });
  assert.deepEqual([list.status, list.text], [404, '{"errors":[]}']);
  assert.deepEqual(await client.kvList("secret", "app"), []);

  const route = await raw(vault, "GET", "nomount/data/x", { token: vault.rootToken });
  assert.equal(route.status, 404);
  assert.match(String((route.body!.errors as string[])[0]), /no handler for route/);
});
