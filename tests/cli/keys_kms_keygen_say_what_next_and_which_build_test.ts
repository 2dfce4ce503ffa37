/**
 * keys status and kms health take a site profile like the other commands;
 * keygen ends with the next step; a loopback-only build pointed at a real
 * site's Vault says which build reaches it.
 */
import assert from "node:assert/strict";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

async function profile(dir: string, vault: string): Promise<string> {
  const node = await writeKeyPair({
    kind: "node",
    name: "node",
    email: "n@example.org",
    outDir: `${dir}/node`,
  });
  const you = await writeKeyPair({
    kind: "user",
    name: "you",
    email: "y@example.org",
    outDir: `${dir}/you`,
  });
  const path = `${dir}/site.yaml`;
  await Deno.writeTextFile(
    path,
    [
      "name: s",
      `sign_key: ${you.secretKey}`,
      "ssh: { login: { host: 127.0.0.1, port: 9 }, user: u }",
      "remote: { base_dir: /scratch/u }",
      `vault: { addr: "${vault}" }`,
      `node: { public_key: ${node.publicKey} }`,
    ].join("\n") + "\n",
  );
  return path;
}

Deno.test("keygen ends with the next step: hand over the .pub, compare fingerprints", async () => {
  await using dir = await tempDir();
  const r = await runCli([
    "keygen",
    "--kind",
    "user",
    "--name",
    "alice",
    "--email",
    "a@example.org",
    "--out",
    dir.path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const fpr = /user key ([0-9A-F]{40})/.exec(r.stdout)?.[1];
  assert.ok(fpr, r.stdout);
  assert.match(r.stderr, new RegExp(`next: give alice\\.pub\\.asc to the site admins.*${fpr}`));
  assert.match(r.stderr, /gpg --show-keys alice\.pub\.asc/);
});

Deno.test({
  name: "kms health and keys status take --site",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir();
    const server = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: "root-k" });
    try {
      const site = await profile(dir.path, server.addr);
      const health = await runCli(["kms", "health", "--site", site], { env: { VAULT_ADDR: "" } });
      assert.equal(health.code, 0, health.stderr);
      assert.match(health.stdout, new RegExp(`^${server.addr.replaceAll(".", "\\.")}: ok`));

      await Deno.writeFile(`${dir.path}/k.key`, new Uint8Array(64), { mode: 0o600 });
      const env = { VAULT_TOKEN: "root-k" };
      const opts = { env, cwd: dir.path };
      const esc = await runCli(
        [
          "keys",
          "escrow",
          "--job",
          "j1",
          "--key",
          `luks=${dir.path}/k.key`,
          "--out",
          "c.json",
          "--site",
          site,
        ],
        opts,
      );
      assert.equal(esc.code, 0, esc.stderr);
      const status = await runCli(["keys", "status", "--job", "j1", "--site", site], opts);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^luks +unused /m);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test("a loopback-only build pointed at a real site's Vault names the build that reaches it", async () => {
  await using dir = await tempDir();
  const site = await profile(dir.path, "https://vault.example.org:8200");
  const health = await runCli(["kms", "health", "--site", site]);
  assert.equal(health.code, 10, health.stderr);
  assert.match(health.stderr, /vault\.example\.org:8200 is not on this sealbatch's network list/);
  assert.match(health.stderr, new RegExp(`hint: .*'deno task compile -- --site ${site}'`));
  const check = await runCli(["site", "check", site]);
  assert.equal(check.code, 10, check.stdout + check.stderr);
  assert.match(check.stdout, /^FAIL vault: permission denied: .*vault\.example\.org:8200/m);
  assert.match(check.stdout, new RegExp(`hint: .*'deno task compile -- --site ${site}'`));
});
