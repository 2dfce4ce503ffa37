/**
 * The project's state follows the spec, as its inputs and outputs do: the
 * same spec run from its own directory or from the parent is one job, not
 * two. A state directory that already holds jobs of the spec is found
 * upward (or where earlier versions put it); job commands find the nearest
 * project with jobs from the current directory upward, as git does.
 */
import assert from "node:assert/strict";
import { findStateDir, stateDirForSpec } from "../../src/run/project.ts";
import { RunState } from "../../src/run/state.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

async function jobOf(root: string, job: string, spec: string): Promise<void> {
  const state = await RunState.open(`${root}/jobs/${job}`, job);
  await state.step("plan", () =>
    Promise.resolve({
      spec,
      name: "j",
      input: "/x/input",
      outputs: "/x/results",
      createdAt: new Date().toISOString(),
    }));
}

Deno.test("a spec's state is beside it, from wherever it is run", async () => {
  await using dir = await tempDir();
  const spec = `${dir.path}/proj/j.yaml`;
  await Deno.mkdir(`${dir.path}/proj/sub`, { recursive: true });
  assert.equal(await stateDirForSpec(spec, dir.path), `${dir.path}/proj/.sealbatch`);
  assert.equal(await stateDirForSpec(spec, `${dir.path}/proj`), `${dir.path}/proj/.sealbatch`);
  assert.equal(
    await stateDirForSpec(spec, `${dir.path}/proj/sub`),
    `${dir.path}/proj/.sealbatch`,
  );
});

Deno.test("a state directory that already has jobs of the spec is used, not a second one", async () => {
  await using dir = await tempDir();
  const spec = `${dir.path}/proj/j.yaml`;
  await Deno.mkdir(`${dir.path}/proj`);
  // Run from the parent by an earlier version: the state is there.
  await jobOf(`${dir.path}/.sealbatch`, "j-00000001", spec);
  assert.equal(await stateDirForSpec(spec, dir.path), `${dir.path}/.sealbatch`);
  // Jobs of another spec do not count.
  await using other = await tempDir();
  await jobOf(`${other.path}/.sealbatch`, "j-00000002", `${other.path}/other.yaml`);
  assert.equal(
    await stateDirForSpec(`${other.path}/p/j.yaml`, other.path),
    `${other.path}/p/.sealbatch`,
  );
});

Deno.test("job commands find the nearest project with jobs, from here upward", async () => {
  await using dir = await tempDir();
  await jobOf(`${dir.path}/proj/.sealbatch`, "j-00000001", `${dir.path}/proj/j.yaml`);
  await Deno.mkdir(`${dir.path}/proj/a/b`, { recursive: true });
  assert.equal(
    await findStateDir(undefined, `${dir.path}/proj/a/b`),
    `${dir.path}/proj/.sealbatch`,
  );
  assert.equal(await findStateDir(`${dir.path}/x`, `${dir.path}/proj`), `${dir.path}/x/.sealbatch`);
  const list = await runCli(["job", "list"], { cwd: `${dir.path}/proj/a/b` });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^j-00000001 /m);
});
