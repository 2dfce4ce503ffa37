/**
 * A whole `sealbatch run` job on this machine: the real pipeline (runJob) with
 * the local executor, whose job directory stands in for the shared file
 * system and whose slurm-ID.out for the Slurm log; the Vault-compatible
 * development server (stand-in) holds the keys. For tests of what reaches the
 * log however the job ends.
 */
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { DevVault } from "../../src/kms/dev_server.ts";
import { VaultClient } from "../../src/kms/vault_client.ts";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { LocalBackend } from "../../src/run/local_backend.ts";
import { prepareLocalNode } from "../../src/run/local_node.ts";
import { jobDir, newJobId, projectStateDir } from "../../src/run/project.ts";
import { runJob } from "../../src/run/run.ts";
import type { RunSummary } from "../../src/run/run.ts";
import { localUser } from "../../src/util/user.ts";
import { CLI_ARGS, tempDir } from "../_helpers/cli.ts";
import { memoryDir } from "../run/_memory.ts";

export { MEMORY_AVAILABLE } from "../run/_memory.ts";

/** In the input's only file name and contents: must never show up in the log. */
export const INPUT_MARKER = "patient-7f3a9c";

/** What a test may do once the job has run, before everything is removed. */
export interface AfterRun {
  backend: LocalBackend;
  /** The job's directory in the stand-in shared file system. */
  jobDir: string;
  /** Requests the Vault stand-in has answered so far. */
  vaultRequests(): number;
}

export interface SealedRun {
  /** The Slurm log (slurm-ID.out) as the shared side sees it. */
  log: string;
  /** What runJob returned, or the error it threw. */
  outcome: RunSummary | Error;
  /** The results the client opened (when the job got that far). */
  results: Record<string, string>;
}

async function readTree(dir: string | undefined): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (dir === undefined) return out;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) out[e.name] = await Deno.readTextFile(`${dir}/${e.name}`);
    }
  } catch {
    // no results
  }
  return out;
}

/** Run `command` (a job spec command) as a sealed job; returns the log and results. */
export async function sealedRun(
  command: string,
  after?: (run: AfterRun) => Promise<void>,
): Promise<SealedRun> {
  await using mem = await memoryDir();
  await using tmp = await tempDir("sealbatch-sealed-run");
  // The development server's Vault, behind a counter of the requests it answers.
  const dev = new DevVault("root-log");
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    requests++;
    return dev.handle(req);
  });
  const vault = { addr: `http://127.0.0.1:${server.addr.port}`, shutdown: () => server.shutdown() };
  const client = await VaultClient.connect({ addr: vault.addr }, "root-log");
  const user = localUser();
  const you = await writeKeyPair({
    kind: "user",
    name: "you",
    email: "you@example.org",
    outDir: `${tmp.path}/you`,
  });
  const node = await prepareLocalNode({
    dir: `${tmp.path}/node`,
    user,
    userPublicKey: you.publicKey,
    vaultAddr: vault.addr,
    memoryRoot: mem.root,
  });
  const shared = `${tmp.path}/shared`;
  await Deno.mkdir(shared);
  const backend = new LocalBackend({
    root: shared,
    nodeConfig: node.config,
    nodeCommand: [Deno.execPath(), ...CLI_ARGS],
  });
  try {
    const project = `${tmp.path}/project`;
    await Deno.mkdir(`${project}/input`, { recursive: true });
    await Deno.writeTextFile(`${project}/input/${INPUT_MARKER}.txt`, `${INPUT_MARKER}\n`);
    await Deno.writeTextFile(
      `${project}/job.yaml`,
      `name: leak\ninput: input\ncommand: ${JSON.stringify(command)}\noutputs: results\n`,
    );
    const spec = await loadJobSpec(`${project}/job.yaml`);
    const job = newJobId(spec.name);
    let outcome: RunSummary | Error;
    try {
      outcome = await runJob({
        spec,
        site: undefined,
        backend,
        vault: client,
        stateDir: jobDir(projectStateDir(project), job),
        dryRun: false,
        signKey: you.secretKey,
        nodePublicKey: node.publicKey,
        nodeCommand: [Deno.execPath(), ...CLI_ARGS],
        user,
      });
    } catch (err) {
      outcome = err as Error;
    }
    const dir = backend.jobDir(job);
    let log = "";
    for await (const e of Deno.readDir(dir)) {
      if (/^slurm-.*\.out$/.test(e.name)) log += await Deno.readTextFile(`${dir}/${e.name}`);
    }
    const results = await readTree(outcome instanceof Error ? undefined : outcome.outputs);
    await after?.({ backend, jobDir: dir, vaultRequests: () => requests });
    return { log, outcome, results };
  } finally {
    await backend[Symbol.asyncDispose]();
    client.close();
    await vault.shutdown();
    await node.remove();
  }
}

/** What the node side and the rendered script may write to the Slurm log: fixed lines only. */
const ALLOWED = [
  /^sealbatch: job [\w.-]+ verified \(signed by [0-9A-F]{40}\), running as [\w.-]+$/,
  /^sealbatch: (keys fetched|data opened|job started|results sealed|keys wiped)$/,
  /^sealbatch: job ended with status \d+$/,
  /^sealbatch: receipt written \(exit status \d+\)$/,
];

/** Every line of the log is one of the fixed progress lines; returns the others. */
export function foreignLines(log: string): string[] {
  return log.split("\n").filter((l) => l !== "" && !ALLOWED.some((re) => re.test(l)));
}
