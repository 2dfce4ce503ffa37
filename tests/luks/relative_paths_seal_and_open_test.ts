import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { names, sampleTree, snapshot } from "./_fixture.ts";

/** The CLI run from `cwd` with every path relative to it. */
function cliIn(cwd: string, args: string[], env: Record<string, string>) {
  return runCli(args, { cwd, env });
}

Deno.test("relative --out without XDG_RUNTIME_DIR: the work directory next to it still works", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/input`);
  await sampleTree(`${dir.path}/input`);
  // No memory-backed storage from the environment: the private directory is
  // made next to --out, "./.sealbatch-seal-...", and cryptsetup runs in it.
  const env = { XDG_RUNTIME_DIR: "" };

  const sealed = await cliIn(dir.path, ["data", "seal", "./input", "--out", "input.img"], env);
  assert.equal(sealed.code, 0, sealed.stderr);
  const opened = await cliIn(
    dir.path,
    ["data", "open", "input.img", "--key", "input.key", "--out", "out"],
    env,
  );
  assert.equal(opened.code, 0, opened.stderr);

  assert.deepEqual(await snapshot(`${dir.path}/out`), await snapshot(`${dir.path}/input`));
  assert.deepEqual(await names(dir.path), ["input", "input.img", "input.key", "out"]);
});

Deno.test("relative --work-dir: seal and open work and leave it empty", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/input`);
  await sampleTree(`${dir.path}/input`);
  await Deno.mkdir(`${dir.path}/work`, { mode: 0o700 });
  const env = { XDG_RUNTIME_DIR: "" };

  const sealed = await cliIn(
    dir.path,
    ["data", "seal", "input", "--out", "input.img", "--work-dir", "work"],
    env,
  );
  assert.equal(sealed.code, 0, sealed.stderr);
  const opened = await cliIn(
    dir.path,
    ["data", "open", "input.img", "--key", "input.key", "--out", "out", "--work-dir", "work"],
    env,
  );
  assert.equal(opened.code, 0, opened.stderr);

  assert.deepEqual(await snapshot(`${dir.path}/out`), await snapshot(`${dir.path}/input`));
  assert.deepEqual(await names(`${dir.path}/work`), []);
  assert.deepEqual(await names(dir.path), ["input", "input.img", "input.key", "out", "work"]);
});
