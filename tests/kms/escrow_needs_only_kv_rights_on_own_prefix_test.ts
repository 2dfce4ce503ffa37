/**
 * Job-scoped escrow, status and revoke work with a user token that may only
 * create/read/delete below its own sealbatch prefix: no policy-writing,
 * token-creation or revoke-accessor rights.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { escrowJob } from "../../src/kms/escrow.ts";
import { keyStatus, revokeJob } from "../../src/kms/followup.ts";
import { VaultError } from "../../src/kms/vault_client.ts";
import { keyFile, startTlsVault } from "./_helpers.ts";

Deno.test("escrow/status/revoke with a least-privilege user token; another user's prefix is denied", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  await root.request("POST", "sys/policies/acl/alice", {
    what: "write policy",
    body: {
      policy: `path "secret/data/sealbatch/alice/*" { capabilities = ["create", "read"] }
               path "secret/metadata/sealbatch/alice/*" { capabilities = ["delete"] }`,
    },
  });
  const alice = root.withToken((await root.tokenCreate({ policies: ["alice"] })).client_token);
  const file = await keyFile(dir.path, "luks.key", "alice-secret");
  const req = {
    job: "j1",
    user: "alice",
    keys: [{ name: "luks", file }],
    mode: "job-scoped" as const,
    wrapTtlMs: 3600_000,
    mount: "secret",
    stateDir: `${dir.path}/state`,
  };
  const { record } = await escrowJob(alice, req);
  assert.equal((await keyStatus(alice, record)).keys[0]!.state, "unused");
  const r = await revokeJob(alice, req.stateDir, record);
  assert.equal(r.revoked, 1);
  assert.equal(await root.wrapLookup(record.keys[0]!.token), null);
  assert.equal(await root.kvRead("secret", "sealbatch/alice/j1/luks"), null);

  // Escrowing under someone else's name is denied, and leaves no record behind.
  await assert.rejects(
    () => escrowJob(alice, { ...req, job: "j2", user: "bob" }),
    (e: unknown) =>
      e instanceof VaultError && e.status === 403 && /permission denied/.test(e.message),
  );
  await assert.rejects(() => Deno.stat(`${req.stateDir}/jobs/j2`), Deno.errors.NotFound);
});

Deno.test("a failure half-way through escrow removes what was already created", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  // The second key's path is taken, so its cas=0 write fails after the first key is escrowed.
  await root.kvWrite("secret", "sealbatch/dave/j3/b", { key: "older" });
  const a = await keyFile(dir.path, "a.key", "A");
  const b = await keyFile(dir.path, "b.key", "B");
  await assert.rejects(
    () =>
      escrowJob(root, {
        job: "j3",
        user: "dave",
        keys: [{ name: "a", file: a }, { name: "b", file: b }],
        mode: "job-scoped",
        wrapTtlMs: 3600_000,
        mount: "secret",
        stateDir: `${dir.path}/state`,
      }),
    /a secret already exists at "secret\/data\/sealbatch\/dave\/j3\/b"/,
  );
  assert.equal(await root.kvRead("secret", "sealbatch/dave/j3/a"), null, "first key rolled back");
  assert.deepEqual(
    await root.kvRead("secret", "sealbatch/dave/j3/b"),
    { key: "older" },
    "existing secret untouched",
  );
  assert.deepEqual(await root.kvList("secret", "sealbatch/dave/j3"), ["b"]);
});
