/**
 * `site check --offline` prints its one line in the form every check line of
 * the full `site check` has, `ok   CHECK: DETAIL` ("profile: X is valid").
 */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("site check --offline says 'ok   profile: PATH is valid', like the full check", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/lab.yaml`;
  const init = await runCli(["site", "init", "lab", "--out", path]);
  assert.equal(init.code, 0, init.stderr);
  const r = await runCli(["site", "check", path, "--offline"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `ok   profile: ${path} is valid\n`);
});
