import assert from "node:assert/strict";
import { assertOneLineError, runCli } from "../_helpers/cli.ts";
import denoJson from "../../deno.json" with { type: "json" };

Deno.test("--version prints the version from deno.json", async () => {
  const r = await runCli(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), denoJson.version);
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
