import assert from "node:assert/strict";
import { assertOneLineError, runCli } from "../_helpers/cli.ts";
import denoJson from "../../deno.json" with { type: "json" };

Deno.test("--version prints the version from deno.json, the commit and the Deno it runs on", async () => {
  const r = await runCli(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim().split(" ")[0], denoJson.version);
  assert.match(
    r.stdout,
    new RegExp(
      `\\(commit [0-9a-f]{12}, from source; Deno ${Deno.version.deno.replaceAll(".", "\\.")}, `,
    ),
  );
});

Deno.test("sealbatch help job list shows the leaf's help, with the global options", async () => {
  const r = await runCli(["help", "job", "list"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: sealbatch job list /);
  assert.match(r.stdout, /Global Options:[^]*--json/);
  const bad = await runCli(["help", "job", "lst"]);
  assert.equal(bad.code, 2);
  assertOneLineError(bad.stderr);
});

Deno.test("every command's help has an example and lists --json", async () => {
  const { buildProgram } = await import("../../src/cli/program.ts");
  type Cmd = ReturnType<typeof buildProgram>;
  const missing: string[] = [];
  const walk = (cmd: Cmd, path: string) => {
    let text = "";
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    cmd.outputHelp();
    if (!/Examples:/.test(text) || !/--json/.test(text)) missing.push(path);
    for (const sub of cmd.commands) walk(sub as Cmd, `${path} ${sub.name()}`);
  };
  walk(buildProgram(), "sealbatch");
  assert.deepEqual(missing, []);
});

Deno.test("an unknown option is a usage error with exit code 2 and one error line", async () => {
  const r = await runCli(["--no-such-flag"]);
  assert.equal(r.code, 2);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
});

Deno.test("an unknown command is a usage error", async () => {
  const r = await runCli(["frobnicate"]);
  assert.equal(r.code, 2);
  assertOneLineError(r.stderr);
});

Deno.test("--help lists an example", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Examples:/);
});

Deno.test("a subcommand with a missing argument is a usage error (exit 2), not an internal one", async () => {
  const r = await runCli(["site", "init"]);
  assert.equal(r.code, 2);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /missing required argument 'name'/);
});
