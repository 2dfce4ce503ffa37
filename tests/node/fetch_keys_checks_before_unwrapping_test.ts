import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { IS_ROOT, mountTmpfs, startTlsVault } from "../kms/_helpers.ts";

function credentials(addr: string, token: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    v: 1,
    kind: "sealbatch-credentials",
    mode: "job-scoped",
    job: "j2",
    user: "alice",
    vault_addr: addr,
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
    keys: [{ name: "luks", path: "secret/data/sealbatch/alice/j2/luks", token }],
    ...extra,
  });
}

/** The file system type of the default temporary directory ("tmpfs" on some CI machines). */
function tmpFsType(): string {
  const probe = Deno.makeTempDirSync();
  try {
    const out = new Deno.Command("stat", { args: ["-f", "-c", "%T", probe], stdout: "piped" })
      .outputSync();
    return new TextDecoder().decode(out.stdout).trim();
  } finally {
    Deno.removeSync(probe);
  }
}

async function secretFile(path: string, text: string, mode = 0o600) {
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
  return path;
}

Deno.test({
  name: "node fetch-keys: a token for another path is refused before it is unwrapped (exit 4)",
  ignore: !IS_ROOT,
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    await using shm = await mountTmpfs(dir.path);
    const root = await vault.root();
    // An attacker's substitute: a valid wrapping token, but for a path the attacker controls.
    await root.kvWrite("secret", "attacker/luks", { key: "known-to-attacker" });
    const w = await root.kvReadWrapped("secret", "attacker/luks", 600);
    const creds = await secretFile(`${shm.path}/c.json`, credentials(vault.addr, w.token));
    const r = await runCli(
      ["node", "fetch-keys", "--credentials", creds, "--out", `${shm.path}/k`],
      {
        env: { VAULT_CACERT: vault.pki.ca, VAULT_ADDR: vault.addr },
      },
    );
    assert.equal(r.code, 4, r.stderr);
    assertOneLineError(r.stderr);
    assert.match(
      r.stderr,
      /created for "secret\/data\/attacker\/luks", not "secret\/data\/sealbatch\/alice\/j2\/luks"/,
    );
    assert.ok(await root.wrapLookup(w.token), "the substitute was not consumed");
    await assert.rejects(() => Deno.stat(`${shm.path}/k/luks`), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "node fetch-keys refuses a key directory on a disk file system",
  // the refusal needs a non-memory temporary directory to point at
  ignore: ["tmpfs", "ramfs"].includes(tmpFsType()),
}, async () => {
  await using dir = await tempDir();
  await using vault = await startTlsVault(dir.path);
  const root = await vault.root();
  await root.kvWrite("secret", "sealbatch/alice/j2/luks", { key: "k" });
  const w = await root.kvReadWrapped("secret", "sealbatch/alice/j2/luks", 600);
  const creds = await secretFile(`${dir.path}/c.json`, credentials(vault.addr, w.token));
  const r = await runCli([
    "node",
    "fetch-keys",
    "--credentials",
    creds,
    "--out",
    `${dir.path}/keys`,
  ], {
    env: { VAULT_CACERT: vault.pki.ca },
  });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /not node-local memory/);
  await assert.rejects(() => Deno.stat(`${dir.path}/keys`), Deno.errors.NotFound);
  assert.ok(await root.wrapLookup(w.token), "nothing was consumed");
});

Deno.test("node fetch-keys: bad credentials are refused without contacting Vault or echoing tokens", async () => {
  await using dir = await tempDir();
  const addr = "http://127.0.0.1:9"; // nothing listens: any contact would fail differently
  const cases: [string, string, number, RegExp, number?][] = [
    [
      "malformed token",
      credentials(addr, "hvs.bad token\nX"),
      3,
      /malformed wrapping token for key "luks"/,
    ],
    [
      "expired",
      credentials(addr, "hvs.AAAAAAAA", { expires_at: "2020-01-01T00:00:00Z" }),
      7,
      /expired at 2020/,
    ],
    ["not JSON", "{", 3, /invalid credentials file .*: not JSON/],
    ["unknown field", credentials(addr, "hvs.AAAAAAAA", { extra: 1 }), 3, /unknown field "extra"/],
    ["group-readable", credentials(addr, "hvs.AAAAAAAA"), 3, /readable by group or others/, 0o640],
  ];
  for (const [label, text, code, re, mode] of cases) {
    const path = await secretFile(
      `${dir.path}/${label.replace(/ /g, "_")}.json`,
      text,
      mode ?? 0o600,
    );
    const r = await runCli(["node", "fetch-keys", "--credentials", path], {
      env: { VAULT_ADDR: "" },
    });
    assert.equal(r.code, code, `${label}: ${r.stderr}`);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, re, label);
    assert.doesNotMatch(r.stderr, /hvs\.bad|hvs\.AAAA/, label);
    if (mode) assert.match(r.stderr, /chmod 600/);
  }
  const ok = await secretFile(`${dir.path}/ok.json`, credentials(addr, "hvs.AAAAAAAA"));
  const unknown = await runCli(["node", "fetch-keys", "--credentials", ok, "--key", "image"], {
    env: { VAULT_ADDR: "" },
  });
  assert.equal(unknown.code, 3);
  assert.match(unknown.stderr, /unknown key name "image"/);
});
