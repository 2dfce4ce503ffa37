/**
 * An escrow killed after Vault stored a key but before its record was saved leaves a secret at
 * the job's path and no record. Escrow refuses to overwrite a secret it was not told is its own;
 * told so (`sealbatch run` keeps a marker of the attempt it began), it writes the key afresh, and
 * the credentials it makes unwrap to the new key, not the old one.
 */
import assert from "node:assert/strict";
import { escrowJob, kvPathFor } from "../../src/kms/escrow.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";
import { keyFile, startTlsVault } from "./_helpers.ts";

Deno.test("escrow overwrites a leftover secret of the same job only when told it is its own", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  const path = kvPathFor("job-scoped", "alice", "job-9", "luks");
  // What the killed attempt left: a secret, no record.
  await root.kvWrite("secret", path, { key: "old" }, { cas: 0 });
  const file = await keyFile(dir.path, "luks.key", new TextEncoder().encode("new-key-bytes"));
  const request = {
    job: "job-9",
    user: "alice",
    keys: [{ name: "luks", file }],
    mode: "job-scoped" as const,
    wrapTtlMs: 3_600_000,
    mount: "secret",
    stateDir: `${dir.path}/state`,
  };
  await assert.rejects(
    () => escrowJob(root, request),
    (e: unknown) => e instanceof SealbatchError && /a secret already exists at/.test(e.message),
  );
  const r = await escrowJob(root, { ...request, replaceLeftovers: true });
  const unwrapped = await root.unwrap(r.credentials.keys[0]!.token);
  const data = (unwrapped.data as { data: Record<string, string> }).data;
  assert.notDeepEqual(data, { key: "old" });
  assert.deepEqual(await root.kvRead("secret", path), data);
});
