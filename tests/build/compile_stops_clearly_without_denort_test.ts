import assert from "node:assert/strict";
import { ROOT, tempDir } from "../_helpers/cli.ts";
import { exec } from "../../src/util/exec.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { canUnshareNet, DENO } from "./bundle_helper.ts";

const offline = await canUnshareNet();
const denort = Deno.env.get("DENORT_BIN") ?? "";

async function build(target: string, dist: string, env: Record<string, string>, net = true) {
  const deno = [DENO, "run", "-q", "-P=test", `${ROOT}/scripts/build.ts`, target, "--dist", dist];
  const [program, ...args] = net ? deno : ["unshare", "-n", "--", ...deno];
  return await exec(program!, args, { cwd: ROOT, env, okCodes: [0, 9] });
}

Deno.test({
  name: "compile with no denort in reach stops at once with a clear message (needs root)",
  ignore: !offline,
  async fn() {
    await using dist = await tempDir("sealbatch-dist");
    await using cache = await tempDir("sealbatch-deno-dir");
    // No network and an empty Deno cache: denort can be neither found nor downloaded.
    const r = await build("compile", dist.path, { DENO_DIR: cache.path }, false);
    assert.equal(r.code, 9);
    assert.match(r.stderr, /cannot build dist\/sealbatch: deno compile needs the denort runtime/);
    assert.match(r.stderr, /hint: set DENORT_BIN=/);
    assert.deepEqual([...Deno.readDirSync(dist.path)], []);
  },
});

Deno.test("compile refuses a DENORT_BIN that is not denort and leaves nothing behind", async () => {
  await using dist = await tempDir("sealbatch-dist");
  // The deno CLI itself is the classic mistake: the result would start a REPL, not sealbatch.
  const r = await build("compile", dist.path, { DENORT_BIN: DENO });
  assert.equal(r.code, 9);
  assert.match(r.stderr, /the new binary does not work/);
  assert.match(r.stderr, /DENORT_BIN must be the denort runtime/);
  assert.deepEqual([...Deno.readDirSync(dist.path)], []);
});

Deno.test("compile refuses a DENORT_BIN that does not exist", async () => {
  await using dist = await tempDir("sealbatch-dist");
  const r = await build("compile", dist.path, { DENORT_BIN: `${dist.path}/nope` });
  assert.equal(r.code, 9);
  assert.match(r.stderr, /cannot use DENORT_BIN=.*nope.*: not an executable file/);
});

Deno.test({
  name: "compile with DENORT_BIN builds a binary that prints the version (needs DENORT_BIN)",
  ignore: denort === "",
  async fn() {
    await using dist = await tempDir("sealbatch-dist");
    const r = await build("compile", dist.path, { DENORT_BIN: denort });
    assert.equal(r.code, 0, r.stderr);
    const v = await exec(`${dist.path}/sealbatch`, ["--version"]);
    assert.equal(v.text.trim().split(" ")[0], denoJson.version);
  },
});
