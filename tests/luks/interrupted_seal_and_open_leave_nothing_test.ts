import assert from "node:assert/strict";
import { CLI_ARGS, tempDir } from "../_helpers/cli.ts";
import { cli, names } from "./_fixture.ts";

/** True once a private work directory in `runtime` holds `file`. */
async function working(runtime: string, file: string): Promise<boolean> {
  for await (const e of Deno.readDir(runtime)) {
    if (!e.isDirectory) continue;
    for await (const f of Deno.readDir(`${runtime}/${e.name}`)) if (f.name === file) return true;
  }
  return false;
}

/** Start the CLI, send SIGINT once `file` exists in private storage, return its exit. */
async function interrupt(args: string[], runtime: string, file: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      ...args,
    ],
    env: { NO_COLOR: "1", XDG_RUNTIME_DIR: runtime },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const deadline = Date.now() + 60_000;
  while (!(await working(runtime, file))) {
    assert.ok(Date.now() < deadline, "the command never started its work");
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGINT");
  const out = await child.output();
  // Children were stopped before the wipe, so nothing reappears afterwards.
  await new Promise((r) => setTimeout(r, 500));
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function bigSource(base: string): Promise<{ src: string; runtime: string }> {
  const src = `${base}/src`;
  const runtime = `${base}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime, { mode: 0o700 });
  const chunk = new Uint8Array(1 << 20);
  const file = await Deno.open(`${src}/data.bin`, { create: true, write: true });
  for (let i = 0; i < 160; i++) {
    crypto.getRandomValues(chunk.subarray(0, 65536));
    await file.write(chunk);
  }
  file.close();
  return { src, runtime };
}

Deno.test("Ctrl-C during seal stops the tools and leaves no plaintext, container or key", async () => {
  await using dir = await tempDir();
  const { src, runtime } = await bigSource(dir.path);
  const res = await interrupt(
    ["data", "seal", src, "--out", `${dir.path}/data.img`],
    runtime,
    "container.img",
  );
  assert.equal(res.code, 130, res.stderr);
  assert.match(res.stderr, /interrupted by SIGINT; temporary files removed/);
  assert.deepEqual(await names(runtime), []);
  assert.deepEqual(await names(dir.path), ["runtime", "src"]);
});

Deno.test("Ctrl-C during open leaves no decrypted copy and no partial output", async () => {
  await using dir = await tempDir();
  const { src, runtime } = await bigSource(dir.path);
  const img = `${dir.path}/data.img`;
  const sealed = await cli(["data", "seal", src, "--out", img, "--headroom", "0"], runtime);
  assert.equal(sealed.code, 0, sealed.stderr);
  const res = await interrupt(
    ["data", "open", img, "--key", `${dir.path}/data.key`, "--out", `${dir.path}/out`],
    runtime,
    "plain.img",
  );
  assert.equal(res.code, 130, res.stderr);
  assert.deepEqual(await names(runtime), []);
  assert.deepEqual(await names(dir.path), ["data.img", "data.key", "runtime", "src"]);
});
