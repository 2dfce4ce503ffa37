import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { IS_ROOT, keyFile, mountTmpfs, raw, startTlsVault } from "./_helpers.ts";

Deno.test({
  name:
    "escrow -> status (consumes nothing) -> node fetch: identical keys; revoke leaves nothing in Vault",
  ignore: !IS_ROOT,
  // mounting the node-local tmpfs needs root
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    await using shm = await mountTmpfs(dir.path);
    const luks = crypto.getRandomValues(new Uint8Array(64));
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----\n";
    await keyFile(dir.path, "luks.key", luks);
    await keyFile(dir.path, "image.pem", pem);
    const env = {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: vault.pki.ca,
      VAULT_TOKEN: vault.rootToken,
      USER: "alice",
      XDG_RUNTIME_DIR: shm.path,
    };

    const esc = await runCli(
      [
        "keys",
        "escrow",
        "--job",
        "job-7",
        "--key",
        "luks=luks.key",
        "--key",
        "image=image.pem",
        "--out",
        "creds.json",
      ],
      { cwd: dir.path, env },
    );
    assert.equal(esc.code, 0, esc.stderr);
    assert.equal((await Deno.stat(`${dir.path}/creds.json`)).mode! & 0o777, 0o600);
    const recordFile = `${dir.path}/.sealbatch/jobs/job-7/keys.json`;
    assert.equal((await Deno.stat(recordFile)).mode! & 0o777, 0o600);
    const creds = JSON.parse(await Deno.readTextFile(`${dir.path}/creds.json`));
    assert.equal(creds.mode, "job-scoped");
    const tokens: string[] = creds.keys.map((k: { token: string }) => k.token);
    const noTokens = (text: string) =>
      tokens.forEach((t) => assert.ok(!text.includes(t), "token printed"));
    noTokens(esc.stdout + esc.stderr);
    assert.deepEqual(creds.keys.map((k: { path: string }) => k.path), [
      "secret/data/sealbatch/alice/job-7/luks",
      "secret/data/sealbatch/alice/job-7/image",
    ]);
    // Neither the credentials nor the record contain key material.
    for (
      const text of [
        await Deno.readTextFile(`${dir.path}/creds.json`),
        await Deno.readTextFile(recordFile),
      ]
    ) {
      assert.doesNotMatch(text, /MIIabc/);
      assert.ok(!text.includes(btoa(String.fromCharCode(...luks))));
    }

    for (let i = 0; i < 2; i++) {
      const st = await runCli(["--json", "keys", "status", "--job", "job-7", "--pending"], {
        cwd: dir.path,
        env,
      });
      assert.equal(st.code, 0, st.stderr);
      assert.deepEqual(JSON.parse(st.stdout).keys.map((k: { state: string }) => k.state), [
        "unused",
        "unused",
      ]);
    }

    await Deno.copyFile(`${dir.path}/creds.json`, `${shm.path}/creds.json`);
    await Deno.chmod(`${shm.path}/creds.json`, 0o600);
    const out = `${shm.path}/keys-7`;
    const fetch = await runCli([
      "node",
      "fetch-keys",
      "--credentials",
      `${shm.path}/creds.json`,
      "--out",
      out,
    ], { env });
    assert.equal(fetch.code, 0, fetch.stderr);
    assert.equal(fetch.stdout.trim(), out);
    noTokens(fetch.stdout + fetch.stderr);
    assert.deepEqual(await Deno.readFile(`${out}/luks`), luks);
    assert.equal(await Deno.readTextFile(`${out}/image`), pem);
    assert.equal((await Deno.stat(`${out}/luks`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o700);

    // After the job started, "used" is expected; with --pending it is flagged (exit 5).
    const used = await runCli(["--json", "keys", "status", "--job", "job-7"], {
      cwd: dir.path,
      env,
    });
    assert.equal(used.code, 0, used.stderr);
    assert.deepEqual(JSON.parse(used.stdout).keys.map((k: { state: string }) => k.state), [
      "used",
      "used",
    ]);
    const flagged = await runCli(["keys", "status", "--job", "job-7", "--pending"], {
      cwd: dir.path,
      env,
    });
    assert.equal(flagged.code, 5);
    assert.match(flagged.stdout, /POSSIBLE INTERCEPTION/);
    assert.match(flagged.stderr, /possible interception/);

    const wipe = await runCli(["node", "wipe-keys", out], { env });
    assert.equal(wipe.code, 0, wipe.stderr);
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);

    const revoke = await runCli(["keys", "revoke", "--job", "job-7"], { cwd: dir.path, env });
    assert.equal(revoke.code, 0, revoke.stderr);
    const list = await raw(vault, "LIST", "secret/metadata/sealbatch/alice", {
      token: vault.rootToken,
    });
    assert.deepEqual([list.status, list.text], [404, '{"errors":[]}']);
    const st = await runCli(["--json", "keys", "status", "--job", "job-7"], { cwd: dir.path, env });
    assert.deepEqual(JSON.parse(st.stdout).keys.map((k: { state: string }) => k.state), [
      "revoked",
      "revoked",
    ]);
  },
});

Deno.test("revoke before the job ran: credentials die and secrets are deleted; rewrap replaces tokens", async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  await keyFile(dir.path, "luks.key", "passphrase-1");
  const env = {
    VAULT_ADDR: vault.addr,
    VAULT_CACERT: vault.pki.ca,
    VAULT_TOKEN: vault.rootToken,
    USER: "bob",
  };
  const esc = await runCli([
    "--json",
    "keys",
    "escrow",
    "--job",
    "j8",
    "--key",
    "luks=luks.key",
    "--wrap-ttl",
    "2h",
  ], {
    cwd: dir.path,
    env,
  });
  assert.equal(esc.code, 0, esc.stderr);
  const creds = JSON.parse(esc.stdout);
  const old = creds.keys[0].token as string;
  const hours = (Date.parse(creds.expires_at) - Date.now()) / 3600_000;
  assert.ok(hours > 1.9 && hours <= 2, `wrap TTL 2h, got ${hours}h`);

  const re = await runCli(["--json", "keys", "rewrap", "--job", "j8"], { cwd: dir.path, env });
  assert.equal(re.code, 0, re.stderr);
  const fresh = JSON.parse(re.stdout).keys[0].token as string;
  assert.notEqual(fresh, old);
  const root = await vault.root();
  assert.equal(await root.wrapLookup(old), null);
  assert.equal((await root.wrapLookup(fresh))?.creation_path, "secret/data/sealbatch/bob/j8/luks");

  const rv = await runCli(["--json", "keys", "revoke", "--job", "j8"], { cwd: dir.path, env });
  assert.equal(rv.code, 0, rv.stderr);
  assert.equal(JSON.parse(rv.stdout).revoked, 1);
  assert.equal(await root.wrapLookup(fresh), null);
  assert.equal(await root.kvRead("secret", "sealbatch/bob/j8/luks"), null);
  // A second escrow under the same job id is refused while the record exists.
  const again = await runCli([
    "keys",
    "escrow",
    "--job",
    "j8",
    "--key",
    "luks=luks.key",
    "--out",
    "c2.json",
  ], {
    cwd: dir.path,
    env,
  });
  assert.equal(again.code, 3);
  assert.match(again.stderr, /already escrowed/);
});
