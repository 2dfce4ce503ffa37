/**
 * One job, one name: every `job` command takes the project's job id or the
 * Slurm id. `job show` finds a job by its Slurm id; `job status|wait|cancel|
 * fetch` take a job id, find its Slurm id and the site it ran on.
 */
import assert from "node:assert/strict";
import { RunState } from "../../src/run/state.ts";
import { showJob, slurmRef } from "../../src/run/project.ts";
import { ROOT, runCli, tempDir } from "../_helpers/cli.ts";
import { MEMORY_AVAILABLE, memoryDir } from "./_memory.ts";

async function project(dir: string): Promise<string> {
  const root = `${dir}/.sealbatch`;
  const profile = `${dir}/site.yaml`;
  // Nothing listens on port 9: a command that reaches for this site fails to connect.
  const gen = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/id`],
  }).output();
  assert.ok(gen.success);
  await Deno.writeTextFile(
    profile,
    [
      "name: nowhere",
      `ssh: { login: { host: 127.0.0.1, port: 9 }, user: u, identity: ${dir}/id }`,
      "remote: { base_dir: /scratch/u }",
      "vault: { addr: http://127.0.0.1:9 }",
      "node: { public_key: node.pub.asc }",
    ].join("\n") + "\n",
  );
  for (const [job, slurm] of [["bart-fft-0000000a", "4242"], ["bart-fft-0000000b", undefined]]) {
    const state = await RunState.open(`${root}/jobs/${job}`, job!);
    await state.step("plan", () =>
      Promise.resolve({
        spec: `${dir}/job.yaml`,
        name: "bart-fft",
        input: `${dir}/input`,
        outputs: `${dir}/results`,
        createdAt: new Date().toISOString(),
        site: profile,
      }));
    if (slurm) await state.step("submit", () => Promise.resolve(slurm));
  }
  return root;
}

Deno.test("job show takes a Slurm id; job status and friends take a job id", async () => {
  await using dir = await tempDir();
  const root = await project(dir.path);
  assert.equal((await showJob(root, "4242")).job, "bart-fft-0000000a");
  await assert.rejects(showJob(root, "999"), /no job of this project has Slurm id "999"/);
  const ref = await slurmRef(root, "bart-fft-0000000a");
  assert.equal(ref.slurmJob, "4242");
  assert.equal(ref.entry?.plan?.site, `${dir.path}/site.yaml`);
  assert.equal((await slurmRef(root, "77")).slurmJob, "77");
  await assert.rejects(
    slurmRef(root, "bart-fft-0000000b"),
    /job "bart-fft-0000000b" was not submitted \(it stopped after plan\)/,
  );
});

Deno.test("the CLI: job show by Slurm id, job status by job id reaches the job's own site", async () => {
  await using dir = await tempDir();
  await project(dir.path);
  const show = await runCli(["job", "show", "4242"], { cwd: dir.path });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^job +bart-fft-0000000a$/m);
  // No --site: the job's plan names its site, and status goes there (nothing listens: exit 6).
  const status = await runCli(["job", "status", "bart-fft-0000000a"], { cwd: dir.path });
  assert.equal(status.code, 6, status.stderr);
  assert.match(status.stderr, /127\.0\.0\.1:9/);
  const unknown = await runCli(["job", "cancel", "no-such-job", "--project", dir.path]);
  assert.equal(unknown.code, 3, unknown.stderr);
  assert.match(unknown.stderr, /no job "no-such-job"/);
  assert.match(unknown.stderr, /hint: .*a Slurm id \(digits\) works too/);
});

Deno.test({
  name: "Ctrl-C while the job runs says how to resume and how to cancel it, by its job id",
  ignore: !MEMORY_AVAILABLE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using mem = await memoryDir();
    await using dir = await tempDir();
    const script = `${dir.path}/run.ts`;
    await Deno.writeTextFile(
      script,
      `import { localProject } from ${JSON.stringify(`${ROOT}/tests/run/_local.ts`)};
import { runJob } from ${JSON.stringify(`${ROOT}/src/run/run.ts`)};
await using p = await localProject({
  memoryRoot: Deno.args[0]!,
  spec: 'name: slow\\ninput: input\\ncommand: "sleep 60"\\n',
});
await runJob(await p.input({
  onEvent: (e) => console.error(\`\${e.step} \${e.phase} \${e.detail ?? ""}\`),
}));
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "-A", "--config", `${ROOT}/deno.json`, script, mem.root],
      stderr: "piped",
      stdout: "null",
    }).spawn();
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      text += decoder.decode(chunk, { stream: true });
      if (/wait progress RUNNING/.test(text)) child.kill("SIGINT");
    }
    assert.equal((await child.status).code, 130, text);
    assert.match(
      text,
      /job local-00000001 keeps running \(Slurm local-1\); run the same command again to resume, or cancel it: sealbatch job cancel local-00000001/,
    );
  },
});
