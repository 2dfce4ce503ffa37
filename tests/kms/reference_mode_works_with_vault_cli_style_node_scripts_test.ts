/**
 * Reference mode: what the reference site's node scripts do with `vault unwrap
 * -field=token` and `vault kv get -field=key` is replayed with curl, request
 * for request (unwrap, the CLI's mount preflight, the KV read), and sealbatch's
 * own node side fetches the same kind of credential.
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { hasProgramSync, IS_ROOT, keyFile, mountTmpfs, startTlsVault } from "./_helpers.ts";

async function curl(
  ca: string,
  args: string[],
): Promise<{ status: number; body: Record<string, unknown> }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--cacert", ca, "-w", "\n%{http_code}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const text = new TextDecoder().decode(out.stdout);
  const at = text.lastIndexOf("\n");
  const body = text.slice(0, at);
  return { status: Number(text.slice(at + 1)), body: body ? JSON.parse(body) : {} };
}

Deno.test({
  name:
    "reference mode: use-limited wrapped tokens that vault-CLI-style scripts and fetch-keys can use",
  ignore: !hasProgramSync("curl") || !IS_ROOT,
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    await using shm = await mountTmpfs(dir.path);
    const root = await vault.root();
    await root.request("POST", "sys/policies/acl/secure-hpc", {
      what: "write policy",
      body: { policy: 'path "secret/data/carol/*" { capabilities = ["read"] }' },
    });
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nref\n-----END RSA PRIVATE KEY-----\n";
    await keyFile(dir.path, "luks.key", "luks-passphrase");
    await keyFile(dir.path, "image.pem", pem);
    await keyFile(dir.path, "binary.key", new Uint8Array([0, 1, 2, 255]));
    const env = {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: vault.pki.ca,
      VAULT_TOKEN: vault.rootToken,
      USER: "carol",
    };

    const bin = await runCli(
      [
        "--json",
        "keys",
        "escrow",
        "--job",
        "r0",
        "--mode",
        "reference",
        "--policy",
        "secure-hpc",
        "--key",
        "b=binary.key",
      ],
      { cwd: dir.path, env },
    );
    assert.equal(bin.code, 3);
    assert.match(bin.stderr, /binary; reference mode stores keys as text/);

    const esc = await runCli(
      [
        "--json",
        "keys",
        "escrow",
        "--job",
        "r1",
        "--mode",
        "reference",
        "--policy",
        "secure-hpc",
        "--key",
        "luks=luks.key",
        "--key",
        "image=image.pem",
      ],
      { cwd: dir.path, env },
    );
    assert.equal(esc.code, 0, esc.stderr);
    const creds = JSON.parse(esc.stdout);
    assert.equal(creds.mode, "reference");
    assert.equal(creds.keys[0].path, "secret/data/carol/luks");

    // vault unwrap -field=token (the wrapping token is the X-Vault-Token)
    const ca = vault.pki.ca;
    const unwrap = await curl(ca, [
      "-X",
      "POST",
      "-H",
      `X-Vault-Token: ${creds.keys[0].token}`,
      `${vault.addr}/v1/sys/wrapping/unwrap`,
    ]);
    assert.equal(unwrap.status, 200);
    const auth = unwrap.body.auth as { client_token: string; policies: string[]; num_uses: number };
    assert.deepEqual(auth.policies, ["default", "secure-hpc"]);
    assert.equal(auth.num_uses, 2);
    // vault kv get -field=key secret/carol/luks: mount preflight, then the read
    const hdr = ["-H", `X-Vault-Token: ${auth.client_token}`];
    const pre = await curl(ca, [
      ...hdr,
      `${vault.addr}/v1/sys/internal/ui/mounts/secret/carol/luks`,
    ]);
    assert.deepEqual((pre.body.data as { options: unknown }).options, { version: "2" });
    const get = await curl(ca, [...hdr, `${vault.addr}/v1/secret/data/carol/luks`]);
    assert.equal((get.body.data as { data: { key: string } }).data.key, "luks-passphrase");
    const third = await curl(ca, [...hdr, `${vault.addr}/v1/secret/data/carol/luks`]);
    assert.equal(third.status, 403, "two uses, then the token is gone");

    // sealbatch's node side with the other credential, then both are spent.
    await Deno.writeTextFile(`${shm.path}/c.json`, esc.stdout, { mode: 0o600 });
    const nodeEnv = {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: ca,
      XDG_RUNTIME_DIR: shm.path,
      VAULT_TOKEN: "",
    };
    const one = await runCli([
      "node",
      "fetch-keys",
      "--credentials",
      `${shm.path}/c.json`,
      "--key",
      "image",
    ], { env: nodeEnv });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(await Deno.readTextFile(`${one.stdout.trim()}/image`), pem);
    const st = await runCli(["--json", "keys", "status", "--job", "r1"], { cwd: dir.path, env });
    assert.deepEqual(JSON.parse(st.stdout).keys.map((k: { state: string }) => k.state), [
      "used",
      "used",
    ]);
    const rv = await runCli(["keys", "revoke", "--job", "r1"], { cwd: dir.path, env });
    assert.equal(rv.code, 0, rv.stderr);
    assert.equal(await root.kvRead("secret", "carol/luks"), null);
  },
});
