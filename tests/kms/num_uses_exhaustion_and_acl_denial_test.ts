import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { VaultError } from "../../src/kms/vault_client.ts";
import { raw, startTlsVault } from "./_helpers.ts";

const INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n";
const DENIED = "1 error occurred:\n\t* permission denied\n\n";

Deno.test("num_uses is counted per request and the token is revoked after its last use", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  await root.kvWrite("secret", "jobs/1", { key: "k" });
  const t = await root.tokenCreate({ num_uses: 2, ttl: "1h" });
  assert.equal(t.num_uses, 2);
  assert.ok(t.policies.includes("root"));
  const limited = root.withToken(t.client_token);
  assert.deepEqual(await limited.kvRead("secret", "jobs/1"), { key: "k" });
  assert.deepEqual(await limited.kvRead("secret", "jobs/1"), { key: "k" });
  const third = await raw(vault, "GET", "secret/data/jobs/1", { token: t.client_token });
  assert.deepEqual([third.status, third.body], [403, { errors: [INVALID_TOKEN] }]);
  await assert.rejects(
    () => limited.kvRead("secret", "jobs/1"),
    (e: unknown) => e instanceof VaultError && e.invalidToken && /used up/.test(e.message),
  );
  // A use-limited token cannot create children.
  const parent = root.withToken((await root.tokenCreate({ num_uses: 5 })).client_token);
  await assert.rejects(
    () => parent.tokenCreate({}),
    /restricted use token cannot generate child tokens/,
  );
});

Deno.test("ACL policies: globs allow exactly their paths, a denial is 403 and still uses the token", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  const put = await raw(vault, "POST", "sys/policies/acl/jobs-read", {
    token: vault.rootToken,
    body: {
      policy: `
        # jobs may read their own inputs
        path "secret/data/jobs/+/input" { capabilities = ["read"] }
        path "secret/data/shared/*" { capabilities = ["read", "list"] }
        path "secret/data/shared/private" { capabilities = ["deny"] }`,
    },
  });
  assert.equal(put.status, 204);
  const got = await raw(vault, "GET", "sys/policies/acl/jobs-read", { token: vault.rootToken });
  assert.equal((got.body!.data as { name: string }).name, "jobs-read");
  assert.equal(got.body!.name, "jobs-read", "sys/ answers repeat data at the top level");

  for (const p of ["jobs/7/input", "jobs/7/output", "shared/a/b", "shared/private"]) {
    await root.kvWrite("secret", p, { key: p });
  }
  const t = await root.tokenCreate({ policies: ["jobs-read"], num_uses: 3 });
  assert.deepEqual(t.policies, ["default", "jobs-read"]);
  const c = root.withToken(t.client_token);
  assert.deepEqual(await c.kvRead("secret", "jobs/7/input"), { key: "jobs/7/input" });
  const denied = await raw(vault, "GET", "secret/data/jobs/7/output", { token: t.client_token });
  assert.deepEqual([denied.status, denied.body], [403, { errors: [DENIED] }]);
  // That denial consumed the second use; the third (last) use is a denial by `deny`.
  const deny = await raw(vault, "GET", "secret/data/shared/private", { token: t.client_token });
  assert.deepEqual([deny.status, deny.body], [403, { errors: [DENIED] }]);
  const gone = await raw(vault, "GET", "secret/data/shared/a/b", { token: t.client_token });
  assert.deepEqual([gone.status, gone.body], [403, { errors: [INVALID_TOKEN] }]);

  // Child policies must be a subset of the parent's.
  const reader = root.withToken((await root.tokenCreate({ policies: ["jobs-read"] })).client_token);
  await assert.rejects(() => reader.tokenCreate({ policies: ["other"] }), /permission denied/);
  await raw(vault, "POST", "sys/policies/acl/creator", {
    token: vault.rootToken,
    body: { policy: 'path "auth/token/create" { capabilities = ["create", "update"] }' },
  });
  const creator = root.withToken((await root.tokenCreate({ policies: ["creator"] })).client_token);
  await assert.rejects(
    () => creator.tokenCreate({ policies: ["jobs-read"] }),
    (e: unknown) =>
      e instanceof VaultError && e.status === 400 &&
      /child policies must be subset of parent/.test(e.message),
  );
});
