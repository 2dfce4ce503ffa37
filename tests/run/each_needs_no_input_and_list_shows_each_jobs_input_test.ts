/**
 * With `--each`, the spec needs no `input:` (each job gets its own), and
 * `job list` shows which input each job is: a cohort's rows differ.
 */
import assert from "node:assert/strict";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { jobDir, projectStateDir } from "../../src/run/project.ts";
import { RunState } from "../../src/run/state.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("a spec without input loads; run without --each refuses it with what to do", async () => {
  await using dir = await tempDir();
  const spec = `${dir.path}/job.yaml`;
  await Deno.writeTextFile(spec, 'name: cohort\ncommand: "ls {input}"\n');
  assert.deepEqual((await loadJobSpec(spec)).input, { kind: "none" });
  // Refused before any key, Vault or site is touched: the spec and the way out are named.
  await Deno.writeTextFile(
    `${dir.path}/site.yaml`,
    [
      "name: s",
      "sign_key: k.asc",
      "ssh: { login: { host: 127.0.0.1, port: 9 }, user: u }",
      "remote: { base_dir: /scratch/u }",
      "vault: { addr: http://127.0.0.1:9 }",
      "node: { public_key: node.pub.asc }",
    ].join("\n") + "\n",
  );
  const none = await runCli(["run", spec, "--site", `${dir.path}/site.yaml`]);
  assert.equal(none.code, 3, none.stderr);
  assert.match(
    none.stderr,
    /job\.yaml: no input: the spec names neither input nor input_container/,
  );
  assert.match(none.stderr, /hint: .*--each/);
});

Deno.test("job list shows each cohort job's input", async () => {
  await using dir = await tempDir();
  for (const [job, input] of [["c-0000000a", "p01"], ["c-0000000b", "p02"]]) {
    const state = await RunState.open(jobDir(projectStateDir(dir.path), job!), job!);
    await state.step("plan", () =>
      Promise.resolve({
        spec: `${dir.path}/job.yaml`,
        name: "c",
        input: `${dir.path}/inputs/${input}`,
        outputs: `${dir.path}/results/${input}`,
        createdAt: new Date().toISOString(),
      }));
  }
  const r = await runCli(["job", "list", "--project", dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^c-0000000a .* inputs\/p01 +job\.yaml$/m);
  assert.match(r.stdout, /^c-0000000b .* inputs\/p02 +job\.yaml$/m);
});
