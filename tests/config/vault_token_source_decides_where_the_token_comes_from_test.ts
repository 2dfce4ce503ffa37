/**
 * `vault.token_source` in a site profile decides where the client's Vault
 * token comes from, for `site check` and `keys escrow --site` (and `run`,
 * which builds its client the same way): `auto` (VAULT_TOKEN, else
 * ~/.vault-token), `env` (VAULT_TOKEN only), `file` (~/.vault-token only) and
 * `file:PATH` (a token file, mode 0600). Each case offers a right and a wrong
 * token in different places, so only the named source can make it pass; the
 * token itself never shows up in any output.
 */
import assert from "node:assert/strict";
import { loadSiteProfile } from "../../src/config/site.ts";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

const RIGHT = `s.right-${crypto.randomUUID()}`;
const WRONG = `s.wrong-${crypto.randomUUID()}`;

function profile(addr: string, source: string | undefined): string {
  return `name: tokens
ssh:
  login: { host: 127.0.0.1, port: 9 }
  user: alice
remote:
  base_dir: /scratch/alice
vault:
  addr: ${addr}
${source === undefined ? "" : `  token_source: ${JSON.stringify(source)}\n`}node:
  public_key: /nonexistent/node.pub.asc
`;
}

Deno.test("token_source parses to where the token is read from", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/site.yaml`;
  const home = Deno.env.get("HOME");
  const cases: [string | undefined, unknown][] = [
    [undefined, { kind: "auto" }],
    ["auto", { kind: "auto" }],
    ["env", { kind: "env" }],
    ["file", { kind: "file", path: `${home}/.vault-token` }],
    ["file:/etc/vault/token", { kind: "file", path: "/etc/vault/token" }],
    ["file:~/tokens/hpc", { kind: "file", path: `${home}/tokens/hpc` }],
  ];
  for (const [source, expected] of cases) {
    await Deno.writeTextFile(path, profile("https://vault.example.org:8200", source));
    assert.deepEqual((await loadSiteProfile(path)).vault.tokenSource, expected, String(source));
  }
});

interface Setup {
  source: string | undefined;
  /** VAULT_TOKEN for the child ("" = unset). */
  env: string;
  /** ~/.vault-token of the child's HOME, if any. */
  home?: string;
  /** A token file for file:PATH (path "TOKENFILE" in `source`), with its mode. */
  file?: { token: string; mode: number };
}

const CHECKS: [string, Setup, RegExp][] = [
  [
    "env reads VAULT_TOKEN and ignores ~/.vault-token",
    { source: "env", env: RIGHT, home: WRONG },
    /^ok +vault token: valid/m,
  ],
  [
    "env without VAULT_TOKEN fails even with ~/.vault-token",
    { source: "env", env: "", home: RIGHT },
    /^FAIL vault token: no Vault token: VAULT_TOKEN is not set\n +hint: set VAULT_TOKEN to a valid token \(vault\.token_source: env\)/m,
  ],
  [
    "file reads ~/.vault-token and ignores VAULT_TOKEN",
    { source: "file", env: WRONG, home: RIGHT },
    /^ok +vault token: valid/m,
  ],
  [
    "file:PATH reads that file and ignores the others",
    { source: "file:TOKENFILE", env: WRONG, home: WRONG, file: { token: RIGHT, mode: 0o600 } },
    /^ok +vault token: valid/m,
  ],
  [
    "file:PATH refuses a token file others can read",
    { source: "file:TOKENFILE", env: RIGHT, file: { token: RIGHT, mode: 0o644 } },
    /^FAIL vault token: refusing Vault token file ".*\/token": readable by group or others/m,
  ],
  [
    "file:PATH that does not exist says so",
    { source: "file:TOKENFILE", env: RIGHT },
    /^FAIL vault token: no Vault token: Vault token file ".*\/token" does not exist/m,
  ],
  [
    "auto (the default) prefers VAULT_TOKEN",
    { source: undefined, env: RIGHT, home: WRONG },
    /^ok +vault token: valid/m,
  ],
  [
    "auto falls back to ~/.vault-token",
    { source: "auto", env: "", home: RIGHT },
    /^ok +vault token: valid/m,
  ],
  [
    "a wrong token from the named source fails",
    { source: "env", env: WRONG, home: RIGHT },
    /^FAIL vault token: /m,
  ],
];

/** A profile, HOME and token file for `setup`; returns the child's environment. */
async function prepare(dir: string, addr: string, setup: Setup): Promise<Record<string, string>> {
  const home = `${dir}/home`;
  await Deno.mkdir(home);
  if (setup.home !== undefined) {
    await Deno.writeTextFile(`${home}/.vault-token`, setup.home, { mode: 0o600 });
  }
  if (setup.file) {
    await Deno.writeTextFile(`${dir}/token`, setup.file.token + "\n");
    await Deno.chmod(`${dir}/token`, setup.file.mode);
  }
  const source = setup.source?.replace("TOKENFILE", `${dir}/token`);
  await Deno.writeTextFile(`${dir}/site.yaml`, profile(addr, source));
  return { HOME: home, VAULT_TOKEN: setup.env, XDG_CONFIG_HOME: `${home}/.config` };
}

function assertNoToken(...texts: string[]): void {
  for (const text of texts) {
    assert.ok(!text.includes(RIGHT) && !text.includes(WRONG), `a token in the output:\n${text}`);
  }
}

for (const [what, setup, expected] of CHECKS) {
  Deno.test({
    name: `site check uses vault.token_source: ${what}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using dir = await tempDir("sealbatch-token");
      const vault = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: RIGHT });
      try {
        const env = await prepare(dir.path, vault.addr, setup);
        const r = await runCli(["site", "check", `${dir.path}/site.yaml`], { env });
        // The node key and SSH lines fail here (no key, nothing on port 9): exit 6.
        assert.equal(r.code, 6, r.stderr);
        assert.match(r.stdout, /^ok +vault: /m);
        assert.match(r.stdout, expected);
        assertNoToken(r.stdout, r.stderr);
      } finally {
        await vault.shutdown();
      }
    },
  });
}

Deno.test({
  name: "keys escrow --site takes the token from the profile's token_source",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir("sealbatch-token");
    const vault = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: RIGHT });
    try {
      const env = await prepare(dir.path, vault.addr, {
        source: "file:TOKENFILE",
        env: WRONG,
        home: WRONG,
        file: { token: RIGHT, mode: 0o600 },
      });
      await Deno.writeTextFile(`${dir.path}/data.key`, "k".repeat(64), { mode: 0o600 });
      const args = [
        "keys",
        "escrow",
        "--job",
        "tok-1",
        "--key",
        `luks=${dir.path}/data.key`,
        "--site",
        `${dir.path}/site.yaml`,
        "--state",
        `${dir.path}/state`,
        "--out",
        `${dir.path}/creds.json`,
      ];
      const r = await runCli(args, { env, cwd: dir.path });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(await Deno.readTextFile(`${dir.path}/creds.json`)).vault_addr);
      assertNoToken(r.stdout, r.stderr);

      // The same with token_source env reads the wrong VAULT_TOKEN and is refused.
      const text = await Deno.readTextFile(`${dir.path}/site.yaml`);
      await Deno.writeTextFile(
        `${dir.path}/site.yaml`,
        text.replace(/token_source: .*/, "token_source: env"),
      );
      const again = await runCli(
        [...args.slice(0, 4), "tok-2", ...args.slice(5, -1), `${dir.path}/creds2.json`],
        { env, cwd: dir.path },
      );
      assert.notEqual(again.code, 0, again.stdout);
      assertNoToken(again.stdout, again.stderr);
    } finally {
      await vault.shutdown();
    }
  },
});
