import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { keyFile } from "./_helpers.ts";

// Nothing listens here: every case must be refused before any contact with Vault.
const env = { VAULT_ADDR: "http://127.0.0.1:9", VAULT_TOKEN: "hvs.validLooking1" };

Deno.test("keys escrow refuses bad input with one clear line and a distinct exit code", async () => {
  await using dir = await tempDir();
  await keyFile(dir.path, "ok.key", "k");
  await keyFile(dir.path, "open.key", "k");
  await Deno.chmod(`${dir.path}/open.key`, 0o644);
  const base = ["keys", "escrow", "--job", "j1", "--out", "c.json"];
  const cases: [string, string[], number, RegExp, Record<string, string>?][] = [
    ["invalid key name", [...base, "--key", "../x=ok.key"], 3, /invalid key name "\.\.\/x"/],
    [
      "duplicate names",
      [...base, "--key", "a=ok.key", "--key", "a=ok.key"],
      2,
      /key name "a" is given twice/,
    ],
    ["no NAME=FILE", [...base, "--key", "ok.key"], 2, /expected NAME=FILE/],
    ["directory as key", [...base, "--key", "a=."], 3, /not a regular file/],
    ["group-readable key", [...base, "--key", "a=open.key"], 3, /readable by group or others/],
    ["missing key file", [...base, "--key", "a=nope.key"], 3, /no such file/],
    [
      "policy without reference",
      [...base, "--key", "a=ok.key", "--policy", "p"],
      2,
      /only used with --mode reference/,
    ],
    [
      "reference without policy",
      [...base, "--key", "a=ok.key", "--mode", "reference"],
      2,
      /needs --policy/,
    ],
    [
      "nowhere for credentials",
      ["keys", "escrow", "--job", "j1", "--key", "a=ok.key"],
      2,
      /where should the credentials go/,
    ],
    [
      "bad job id",
      ["keys", "escrow", "--job", "a/b", "--key", "a=ok.key", "--out", "c.json"],
      3,
      /invalid job id "a\/b"/,
    ],
    [
      "bad wrap ttl",
      [...base, "--key", "a=ok.key", "--wrap-ttl", "soon"],
      3,
      /invalid --wrap-ttl "soon"/,
    ],
    ["token with a line break", [...base, "--key", "a=ok.key"], 3, /malformed VAULT_TOKEN/, {
      VAULT_TOKEN: "hvs.abc\nInjected: 1",
    }],
    ["token with spaces", [...base, "--key", "a=ok.key"], 3, /malformed VAULT_TOKEN/, {
      VAULT_TOKEN: "hvs.abc def",
    }],
    ["plain http remote", [...base, "--key", "a=ok.key"], 3, /must be reached over https/, {
      VAULT_ADDR: "http://vault.example.org",
    }],
  ];
  for (const [label, args, code, re, extra] of cases) {
    const r = await runCli(args, { cwd: dir.path, env: { ...env, ...(extra ?? {}) } });
    assert.equal(r.code, code, `${label}: ${r.stderr}`);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, re, label);
    assert.doesNotMatch(r.stderr, /validLooking1|hvs\.abc/, `${label}: token echoed`);
    if (label === "group-readable key") assert.match(r.stderr, /hint: chmod 600/);
  }
  // Nothing was left behind by any refusal.
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), [
    "ok.key",
    "open.key",
  ]);
});
