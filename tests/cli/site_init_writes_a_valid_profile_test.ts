import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("site init writes a 0600 profile that site check accepts, and never overwrites it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.yaml`;
  const init = await runCli(["site", "init", "lab", "--out", path]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal(((await Deno.stat(path)).mode ?? 0) & 0o777, 0o600);
  const check = await runCli(["--json", "site", "check", "--offline", path]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).profile.name, "lab");
  const again = await runCli(["site", "init", "lab", "--out", path]);
  assert.equal(again.code, 3);
  assertOneLineError(again.stderr);
});

Deno.test("site names that could escape the config dir are refused", async () => {
  const r = await runCli(["site", "init", "../x"]);
  assert.equal(r.code, 2);
  assertOneLineError(r.stderr);
});
