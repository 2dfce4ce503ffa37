/**
 * The local executor runs a sealed job the way a Slurm batch step does: the
 * real node side (`node decrypt-and-execute`: signature check, decryption,
 * manifest, nonce) in the job directory, its output in slurm-ID.out, and a
 * Slurm-like terminal state. Uploads into the stand-in shared directory are
 * verified and skipped when the same bytes are already there.
 */
import assert from "node:assert/strict";
import { CLI_ARGS, tempDir } from "../_helpers/cli.ts";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { sealJob } from "../../src/job/seal.ts";
import { LocalBackend } from "../../src/run/local_backend.ts";
import { prepareLocalNode } from "../../src/run/local_node.ts";
import { localUser } from "../../src/util/user.ts";
import { MEMORY_AVAILABLE, memoryDir } from "./_memory.ts";

const ignore = !MEMORY_AVAILABLE;
const why = " (needs a tmpfs: $XDG_RUNTIME_DIR, or root to mount one)";

const NODE_COMMAND = [Deno.execPath(), ...CLI_ARGS];

async function setup(dir: string, memoryRoot: string) {
  const user = localUser();
  const key = await writeKeyPair({
    kind: "user",
    name: "user",
    email: "u@example.org",
    outDir: `${dir}/keys`,
  });
  const node = await prepareLocalNode({
    dir: `${dir}/node`,
    user,
    userPublicKey: key.publicKey,
    memoryRoot,
  });
  await Deno.mkdir(`${dir}/shared`);
  const backend = new LocalBackend({
    root: `${dir}/shared`,
    nodeConfig: node.config,
    nodeCommand: NODE_COMMAND,
  });
  /** Seal `command` into the job dir of `job`, the way runJob does before submit. */
  const seal = async (job: string, command: string) => {
    const jobDir = backend.jobDir(job);
    await Deno.mkdir(jobDir, { recursive: true });
    await sealJob({
      command: { text: command },
      nodeKey: node.publicKey,
      signKey: key.secretKey,
      outDir: jobDir,
      user,
      jobId: job,
    });
    return jobDir;
  };
  return { backend, seal, user, node };
}

Deno.test({
  name: "a sealed job runs through decrypt-and-execute: COMPLETED, output in slurm-ID.out" + why,
  ignore,
  fn: async () => {
    await using mem = await memoryDir();
    await using dir = await tempDir("sealbatch-local");
    const { backend, seal } = await setup(dir.path, mem.root);
    await using _ = backend;
    const jobDir = await seal(
      "ok-0001",
      '#!/bin/bash\necho "ran in $PWD" >where.txt\necho hello\n',
    );
    const id = await backend.submit(jobDir, {}, "ok-0001");
    assert.equal(id, "local-1");
    const states: string[] = [];
    const result = await backend.wait(id, (s) => states.push(s));
    assert.deepEqual(result, { id, state: "COMPLETED", outcome: "completed", exitCode: "0:0" });
    assert.deepEqual(states, ["RUNNING", "COMPLETED"]);
    assert.equal(await Deno.readTextFile(`${jobDir}/where.txt`), `ran in ${jobDir}\n`);
    const log = await Deno.readTextFile(`${jobDir}/slurm-${id}.out`);
    assert.match(log, /job ok-0001 verified \(signed by [0-9A-F]{40}\)/);
    assert.match(log, /^hello$/m);
  },
});

Deno.test({
  name: "a failing job is FAILED with its exit code; a tampered run.sh is refused and FAILED" + why,
  ignore,
  fn: async () => {
    await using mem = await memoryDir();
    await using dir = await tempDir("sealbatch-local");
    const { backend, seal } = await setup(dir.path, mem.root);
    await using _ = backend;
    const failing = await seal("bad-0001", "#!/bin/bash\nexit 3\n");
    let id = await backend.submit(failing, {}, "bad-0001");
    assert.deepEqual(await backend.wait(id), {
      id,
      state: "FAILED",
      outcome: "failed",
      exitCode: "3:0",
    });

    const tampered = await seal("bad-0002", "#!/bin/bash\ntouch ran.txt\n");
    const script = await Deno.readTextFile(`${tampered}/run.sh`);
    await Deno.writeTextFile(`${tampered}/run.sh`, script.replace("\n\n", "\n"));
    id = await backend.submit(tampered, {}, "bad-0002");
    assert.equal(id, "local-2");
    const result = await backend.wait(id);
    assert.equal(result.state, "FAILED");
    assert.equal(result.exitCode, "4:0");
    assert.match(await Deno.readTextFile(`${tampered}/slurm-${id}.out`), /signature/);
    await assert.rejects(Deno.stat(`${tampered}/ran.txt`), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "cancel stops a running job and its children: CANCELLED, private work dir wiped" + why,
  ignore,
  fn: async () => {
    await using mem = await memoryDir();
    await using dir = await tempDir("sealbatch-local");
    const { backend, seal, node } = await setup(dir.path, mem.root);
    await using _ = backend;
    const jobDir = await seal("slow-0001", "#!/bin/bash\necho started\nexec sleep 60\n");
    const id = await backend.submit(jobDir, {}, "slow-0001");
    // Wait for the node side to start the job before cancelling it.
    const log = `${jobDir}/slurm-${id}.out`;
    for (let i = 0; i < 300 && !(await Deno.readTextFile(log)).includes("started"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await backend.cancel(id);
    assert.equal((await backend.wait(id)).state, "CANCELLED");
    // The node side got SIGTERM as under scancel and wiped its private work directory.
    const left = [...Deno.readDirSync(node.workDir)].map((e) =>
      `${e.name}: [${[...Deno.readDirSync(`${node.workDir}/${e.name}`)].map((f) => f.name)}]`
    );
    assert.deepEqual(left, []);
  },
});

Deno.test({
  name: "upload is verified and skipped when the same bytes are there; download copies back" + why,
  ignore,
  fn: async () => {
    await using mem = await memoryDir();
    await using dir = await tempDir("sealbatch-local");
    const { backend } = await setup(dir.path, mem.root);
    await using _ = backend;
    const local = `${dir.path}/input.img`;
    await Deno.writeFile(local, new Uint8Array(70_000).map((_, i) => i * 7));
    const remote = backend.jobDir("up-0001");
    const [first] = await backend.upload([local], remote);
    assert.equal(first!.path, `${remote}/input.img`);
    assert.equal(first!.bytes, 70_000);
    assert.equal(first!.skipped, false);
    const [again] = await backend.upload([local], remote);
    assert.equal(again!.skipped, true);
    assert.equal(again!.sha256, first!.sha256);

    await Deno.writeFile(local, new Uint8Array(10));
    const [changed] = await backend.upload([local], remote);
    assert.equal(changed!.skipped, false);
    assert.equal((await Deno.stat(`${remote}/input.img`)).size, 10);

    const back = await backend.download(`${remote}/input.img`, `${dir.path}/back.img`);
    assert.equal(back.sha256, changed!.sha256);
    assert.deepEqual(await Deno.readFile(`${dir.path}/back.img`), new Uint8Array(10));
    const entries = [...Deno.readDirSync(remote)].map((e) => e.name).sort();
    assert.deepEqual(entries, ["input.img"], "no temporary file is left behind");
  },
});
