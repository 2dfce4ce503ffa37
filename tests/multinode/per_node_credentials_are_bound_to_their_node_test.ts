/**
 * A job of 3 nodes gets one single-use credential per node and key, each wrapping a read of that
 * node's own copy of the key. A node takes only its own (by its index, SLURM_NODEID); a token
 * created for another node's path is refused before anything is unwrapped; a credential spent early
 * (by another node, or twice) stops the node it was for with the interception exit code (5).
 */
import assert from "node:assert/strict";
import { escrowJob } from "../../src/kms/escrow.ts";
import { parseCredentials } from "../../src/kms/credentials.ts";
import type { Credentials } from "../../src/kms/credentials.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { fetchKeys } from "../../src/node/fetch_keys.ts";
import { tempDir } from "../_helpers/cli.ts";
import { IS_ROOT, keyFile, mountTmpfs, startTlsVault } from "../kms/_helpers.ts";

const NODES = 3;

async function setup(dir: string, vault: Awaited<ReturnType<typeof startTlsVault>>) {
  const luks = crypto.getRandomValues(new Uint8Array(64));
  const file = await keyFile(dir, "luks.key", luks);
  const image = await keyFile(dir, "image.pem", "-----BEGIN PRIVATE KEY-----\nMIIx\n");
  const { credentials, record } = await escrowJob(await vault.root(), {
    job: "mn-1",
    user: "alice",
    keys: [{ name: "luks", file }, { name: "image", file: image }],
    mode: "job-scoped",
    wrapTtlMs: 3_600_000,
    mount: "secret",
    stateDir: `${dir}/state`,
    nodes: NODES,
  });
  return { luks, credentials, record };
}

async function credsFile(dir: string, name: string, creds: Credentials): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, JSON.stringify(creds), { mode: 0o600 });
  return path;
}

const fetchAs = (
  vault: { addr: string; pki: { ca: string } },
  path: string,
  out: string,
  node?: number,
) =>
  fetchKeys({
    credentialsPath: path,
    outDir: out,
    vaultAddr: vault.addr,
    caCert: vault.pki.ca,
    ...(node !== undefined ? { node } : {}),
  });

Deno.test({
  name: "per-node credentials: one per node and key, each node fetches its own copy",
  ignore: !IS_ROOT, // the node-local tmpfs needs root
  async fn() {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    await using shm = await mountTmpfs(dir.path);
    const { luks, credentials, record } = await setup(dir.path, vault);
    assert.equal(credentials.keys.length, 2 * NODES);
    assert.deepEqual(
      credentials.keys.map((k) => `${k.node}:${k.path}`).sort(),
      [0, 1, 2].flatMap((i) => [
        `${i}:secret/data/sealbatch/alice/mn-1/n${i}/image`,
        `${i}:secret/data/sealbatch/alice/mn-1/n${i}/luks`,
      ]).sort(),
    );
    assert.equal(new Set(credentials.keys.map((k) => k.token)).size, 2 * NODES, "no shared token");
    assert.equal(record.keys.length, 2 * NODES);
    // The document round-trips through the parser the node uses.
    assert.deepEqual(parseCredentials(JSON.stringify(credentials), "x"), credentials);

    const path = await credsFile(shm.path, "creds.json", credentials);
    // Which node is this? A multi-node job's credentials do not guess.
    await assert.rejects(
      () => fetchAs(vault, path, `${shm.path}/k`),
      (e: unknown) =>
        e instanceof SealbatchError && e.kind === "usage" && /per node/.test(e.message),
    );
    await assert.rejects(
      () => fetchAs(vault, path, `${shm.path}/k`, NODES),
      (e: unknown) =>
        e instanceof SealbatchError && e.kind === "refused" && /nothing for node 3/.test(e.message),
    );
    for (let i = 0; i < NODES; i++) {
      const r = await fetchAs(vault, path, `${shm.path}/keys-${i}`, i);
      assert.deepEqual(r.keys.map((k) => k.name), ["luks", "image"]);
      assert.deepEqual(await Deno.readFile(`${shm.path}/keys-${i}/luks`), luks);
    }
    // Every credential is spent now: node 1 again is the alarm.
    await assert.rejects(
      () => fetchAs(vault, path, `${shm.path}/again`, 1),
      (e: unknown) =>
        e instanceof SealbatchError && e.kind === "intercepted" && e.exitCode === 5 &&
        /"luks" of node 1 of job "mn-1" was already used/.test(e.message),
    );
  },
});

Deno.test({
  name:
    "per-node credentials: another node's token is refused unspent; one spent early is the alarm",
  ignore: !IS_ROOT,
  async fn() {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    await using shm = await mountTmpfs(dir.path);
    const { credentials } = await setup(dir.path, vault);
    const own = (i: number, name: string) =>
      credentials.keys.find((k) => k.node === i && k.name === name)!;

    // Node 1 is handed node 0's luks token under its own entry: the token's creation path (node
    // 0's copy) is not node 1's, so nothing is unwrapped, and node 0 still gets its key.
    const swapped = {
      ...credentials,
      keys: credentials.keys.map((k) =>
        k === own(1, "luks") ? { ...k, token: own(0, "luks").token } : k
      ),
    };
    await assert.rejects(
      async () =>
        fetchAs(vault, await credsFile(shm.path, "swapped.json", swapped), `${shm.path}/k1`, 1),
      (e: unknown) =>
        e instanceof SealbatchError && e.kind === "refused" &&
        /created for "secret\/data\/sealbatch\/alice\/mn-1\/n0\/luks", not "secret\/data\/sealbatch\/alice\/mn-1\/n1\/luks"/
          .test(e.message),
    );
    await assert.rejects(() => Deno.stat(`${shm.path}/k1/luks`), Deno.errors.NotFound);
    const path = await credsFile(shm.path, "creds.json", credentials);
    await fetchAs(vault, path, `${shm.path}/k0`, 0);

    // A hostile node 2 (every node decrypts the same job message, so it holds every node's
    // credentials) spends node 1's first: node 1's fetch is the interception alarm, before it
    // unwraps anything of its own.
    await (await vault.root()).unwrap(own(1, "luks").token);
    await assert.rejects(
      () => fetchAs(vault, path, `${shm.path}/k1b`, 1),
      (e: unknown) =>
        e instanceof SealbatchError && e.exitCode === 5 && /of node 1/.test(e.message),
    );
    await assert.rejects(() => Deno.stat(`${shm.path}/k1b/image`), Deno.errors.NotFound);
    // Node 1's image credential was only looked up, never used: still there to revoke.
    assert.notEqual(await (await vault.root()).wrapLookup(own(1, "image").token), null);
  },
});
