/**
 * The job script of a job of several nodes, run by bash as a node's part would run it (its node
 * commands recorded instead of run): it fetches that node's own credentials, opens the data, says
 * "node ready" and waits for the command's exit status on stdin; the command itself runs only in
 * the command step's tasks (SEALBATCH_NODE_TASK=1). Node 0 seals its results; another node seals
 * its own only when every node's are kept. Without a status (the job stopped elsewhere) it
 * stops, sealing nothing.
 */
import assert from "node:assert/strict";
import { renderSealbatchScript } from "../../src/render/sealbatch.ts";
import type { RenderInput } from "../../src/render/sealbatch.ts";
import { exec } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";

function input(calls: string, keepAll: boolean): RenderInput {
  return {
    // Records each node command (one line of arguments) instead of running it.
    nodeCommand: ["bash", "-c", `printf '%s\\n' "$*" >>${calls}`, "sb"],
    credentials: {
      v: 1,
      kind: "sealbatch-credentials",
      mode: "job-scoped",
      job: "mn-1",
      user: "alice",
      vault_addr: "https://vault.example.org:8200",
      expires_at: "2030-01-01T00:00:00Z",
      keys: [0, 1].map((node) => ({
        name: "luks",
        path: `secret/data/sealbatch/alice/mn-1/n${node}/luks`,
        token: `hvs.token${node}`,
        node,
      })),
    },
    command: "echo task $SLURM_PROCID >>{output}/tasks.txt",
    input: "input.img",
    output: "output.img",
    results: "output.results.img",
    nodes: { count: 2, keepAll },
  };
}

async function part(node: number, keepAll: boolean, stdin: string) {
  const dir = await tempDir("sealbatch-nodes-script");
  const work = `${dir.path}/work`;
  await Deno.mkdir(`${work}/output`, { recursive: true });
  await Deno.mkdir(`${work}/keys`);
  const calls = `${dir.path}/calls`;
  const script = renderSealbatchScript(input(calls, keepAll));
  await Deno.writeTextFile(`${dir.path}/command.sh`, script);
  const out = await exec("bash", [`${dir.path}/command.sh`], {
    cwd: dir.path,
    stdin,
    env: {
      SEALBATCH_WORK_DIR: work,
      SEALBATCH_INPUTS: `${work}/inputs`,
      SEALBATCH_NODE_INDEX: String(node),
    },
    okCodes: [0, 1, 3],
    what: "the job script",
  });
  return {
    dir,
    work,
    script,
    code: out.code,
    said: out.stderr,
    calls: await Deno.readTextFile(calls),
  };
}

Deno.test("a node's part fetches its own keys, opens the data, says ready and waits for the status", async () => {
  const r = await part(1, true, "3\n");
  await using _ = r.dir;
  await exec("bash", ["-n"], { stdin: r.script, what: "bash -n" });
  assert.equal(r.code, 3, "the command's status is the part's");
  assert.match(r.said, /^sealbatch: keys fetched\nsealbatch: data opened\nsealbatch: node ready\n/);
  assert.match(r.said, /sealbatch: job ended with status 3\n/);
  assert.doesNotMatch(r.said, /job started/, "the command step runs the command, not the part");
  const calls = r.calls.trim().split("\n");
  assert.match(
    calls[0]!,
    /^node fetch-keys --credentials .*\/credentials\.json --out .*\/keys --node-index 1$/,
  );
  // Node 1 seals to its own container when every node's results are kept.
  assert.ok(calls.some((c) => /--seal-to .*\/output\.results\.node-1\.img$/.test(c)), r.calls);
  assert.equal((await Deno.readTextFile(`${r.work}/output/job.status`)).trim(), "3");
  await assert.rejects(Deno.stat(`${r.work}/output/tasks.txt`), "the part never ran the command");
});

Deno.test("node 0 seals to the job's results; another node discards its own unless all are kept", async () => {
  const first = await part(0, false, "0\n");
  await using _a = first.dir;
  assert.equal(first.code, 0);
  assert.ok(first.calls.split("\n").some((c) => /--seal-to .*\/output\.results\.img$/.test(c)));
  const other = await part(1, false, "0\n");
  await using _b = other.dir;
  assert.ok(
    other.calls.split("\n").some((c) =>
      /^node data close --mount-point .*\/output --discard$/.test(c)
    ),
  );
  assert.ok(!other.calls.includes("--seal-to"), other.calls);
});

Deno.test("without a status on stdin the part stops, sealing nothing and wiping the keys", async () => {
  const r = await part(1, true, "");
  await using _ = r.dir;
  assert.equal(r.code, 1);
  assert.match(r.said, /sealbatch: stopped: another node failed\n/);
  assert.ok(!r.calls.includes("--seal-to"), r.calls);
  assert.match(r.calls, /^node wipe-keys .*\/keys$/m);
});

Deno.test("a task of the command step runs only the command, in its node's output", async () => {
  const dir = await tempDir("sealbatch-nodes-task");
  await using _ = dir;
  const work = `${dir.path}/work`;
  await Deno.mkdir(`${work}/output`, { recursive: true });
  const calls = `${dir.path}/calls`;
  await Deno.writeTextFile(`${work}/command.sh`, renderSealbatchScript(input(calls, true)));
  for (const task of ["4", "5"]) {
    await exec("bash", [`${work}/command.sh`], {
      cwd: dir.path,
      env: {
        SEALBATCH_WORK_DIR: work,
        SEALBATCH_INPUTS: `${work}/inputs`,
        SEALBATCH_NODE_TASK: "1",
        SLURM_PROCID: task,
      },
      what: "a task",
    });
  }
  assert.equal(await Deno.readTextFile(`${work}/output/tasks.txt`), "task 4\ntask 5\n");
  await assert.rejects(Deno.stat(calls), "no node command, no credentials");
  await assert.rejects(Deno.stat(`${work}/credentials.json`));
});
