import assert from "node:assert/strict";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { permissionFlags } from "../../src/util/permissions.ts";
import { buildBundle, isolate, runBundle } from "./bundle_helper.ts";

/**
 * The shipped flags with reads and writes narrowed to the working directory:
 * everything else (env, run, sys, net) exactly as shipped.
 */
Deno.test("with narrowed read/write flags, a path outside them is a clean permission error (exit 10)", async () => {
  await using dist = await tempDir("sealbatch-dist");
  await using work = await tempDir("sealbatch-narrow");
  await using outside = await tempDir("sealbatch-outside");
  const bundle = await isolate(await buildBundle(dist.path), work.path);
  const flags = permissionFlags(undefined, { read: [work.path], write: [work.path] });
  assert.ok(flags.includes(`--allow-read=${work.path}`));
  const run = { cwd: work.path, bundle, flags, offline: false };

  // Inside the allowed paths the same flags work: the denials below are about the path.
  let r = await runBundle(run, ["sample", "shepp-logan", "--out", `${work.path}/in`]);
  assert.equal(r.code, 0, r.stderr);
  r = await runBundle(run, ["view", `${work.path}/in/shepp_logan`, "--out", `${work.path}/k.png`]);
  assert.equal(r.code, 0, r.stderr);

  await Deno.copyFile(`${work.path}/in/shepp_logan.hdr`, `${outside.path}/x.hdr`);
  await Deno.copyFile(`${work.path}/in/shepp_logan.cfl`, `${outside.path}/x.cfl`);
  r = await runBundle(run, ["view", `${outside.path}/x.cfl`, "--out", `${work.path}/x.png`]);
  assert.equal(r.code, 10, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /^sealbatch: error: permission denied: .*read access to .*x\.hdr/m);

  r = await runBundle(run, ["sample", "shepp-logan", "--out", `${outside.path}/out`]);
  assert.equal(r.code, 10, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /permission denied: .*write access/);
  await assert.rejects(Deno.stat(`${outside.path}/out`), Deno.errors.NotFound);
});
