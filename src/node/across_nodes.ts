/**
 * A sealed job of several nodes. The batch script runs on the job's first
 * node; its node side (the coordinator, after it verified and decrypted the
 * job itself) starts one step over the whole allocation through Slurm:
 *
 *   srun --nodes=N --ntasks-per-node=1 /usr/bin/decrypt_and_execute --node-part
 *
 * On every node that part verifies Slurm's stored batch script and its
 * signature, decrypts the message in it with the node key, checks the
 * manifest (its own nonce claim, its own hash-checked copy of the inputs in
 * its own work dir), and runs the job script, which fetches that node's own
 * credentials, opens the input and the output, and says "node ready". Only
 * when every node is ready does the coordinator start the command, as a
 * second step across the allocation (so MPI programs launched by Slurm work):
 *
 *   srun --nodes=N --ntasks-per-node=T bash -c TASK   (TASK: constant, below)
 *
 * Its exit status goes to every part, whose script then seals that node's
 * results and wipes keys and plaintext. One part that fails or refuses stops
 * them all before the command starts: the coordinator tells the others to
 * stop, and the job exits with the first failure's exit code.
 *
 * The parts talk to the coordinator over the step's stdio only (srun carries
 * it): each part writes protocol lines on stdout, and the coordinator's
 * lines on the step's stdin reach every part (--input=all). Progress lines
 * on stderr pass the same filter as a single node's (PROGRESS_LINE).
 */
import { exec } from "../util/exec.ts";
import { q, refusal, SealbatchError, usageError } from "../util/errors.ts";
import { WRAPPER_PATH } from "../job/envelope.ts";
import { type Account, asAccount } from "./account.ts";
import { progressSink } from "./execute.ts";
import { lineSink } from "../util/line_sink.ts";

/** The part's private directory: its name is one the command step can find on that node. */
export function partDirName(slurmJob: string, index: number): string {
  return `sealbatch-job-${slurmJob}.node-${index}`;
}

/**
 * What each task of the command step runs: a constant, no value from the job
 * in it. It finds its node's private directory, which must be its own, and
 * runs the job script's command branch there.
 */
const TASK =
  'D="$SEALBATCH_TASK_DIRS.node-$SLURM_NODEID"; [ -d "$D" ] && [ -O "$D" ] || exit 126; ' +
  'export SEALBATCH_WORK_DIR="$D" SEALBATCH_INPUTS="$D/inputs" SEALBATCH_NODE_TASK=1; ' +
  'exec bash "$D/command.sh"';

/** The line a job script says when its node is ready for the command. */
export const READY_LINE = "sealbatch: node ready";

/** Part -> coordinator (stdout). */
type PartLine =
  | { kind: "ready"; node: number }
  | { kind: "done"; node: number; code: number }
  | { kind: "failed"; code: number };
/** Coordinator -> parts (stdin): the command's exit status, or stop. */
export type Verdict = { kind: "status"; code: number } | { kind: "stop" };

export const partLine = {
  ready: (node: number) => `sealbatch-part: ready ${node}\n`,
  done: (node: number, code: number) => `sealbatch-part: done ${node} ${code}\n`,
  failed: (node: number | undefined, code: number) =>
    `sealbatch-part: failed ${node ?? "-"} ${code}\n`,
};

function parsePartLine(line: string): PartLine | undefined {
  const ready = /^sealbatch-part: ready (\d{1,3})$/.exec(line);
  if (ready) return { kind: "ready", node: Number(ready[1]) };
  const done = /^sealbatch-part: done (\d{1,3}) (\d{1,3})$/.exec(line);
  if (done) return { kind: "done", node: Number(done[1]), code: Math.min(Number(done[2]), 255) };
  const failed = /^sealbatch-part: failed (\d{1,3}|-) (\d{1,3})$/.exec(line);
  if (failed) return { kind: "failed", code: Math.min(Number(failed[2]), 255) || 1 };
  return undefined;
}

export function parseVerdict(line: string): Verdict | undefined {
  if (line === "stop") return { kind: "stop" };
  const status = /^status (\d{1,3})$/.exec(line);
  return status ? { kind: "status", code: Math.min(Number(status[1]), 255) } : undefined;
}

/** Protocol lines are short; anything longer is not one. */
const MAX_PROTOCOL_LINE = 256;

/** The coordinator's first line from stdin, for a part (undefined: stdin closed first). */
export async function readVerdict(
  stdin: ReadableStream<Uint8Array>,
): Promise<Verdict | undefined> {
  let verdict: Verdict | undefined;
  let seen = false;
  await stdin.pipeTo(lineSink((line) => {
    if (!seen) [seen, verdict] = [true, parseVerdict(line)];
  }, MAX_PROTOCOL_LINE)).catch(() => {});
  return verdict;
}

export interface CoordinateInput {
  slurmJob: string;
  account: Account;
  /** The allocation's nodes, in Slurm's order. */
  hosts: string[];
  tasksPerNode: number;
  /** The node config's work_dir: the parts' private directories are below it. */
  workDir: string;
  notify: (line: string) => void;
}

export interface CoordinateOutput {
  /** The command's exit status, or the first failure's exit code. */
  exitCode: number;
  /** False when the command never started. */
  ran: boolean;
}

export async function coordinate(input: CoordinateInput): Promise<CoordinateOutput> {
  const n = input.hosts.length;
  const env = {
    HOME: input.account.home,
    USER: input.account.name,
    LOGNAME: input.account.name,
  };
  const step = (extra: string[]) => [
    `--jobid=${input.slurmJob}`,
    `--nodes=${n}`,
    "--overlap",
    "--quiet",
    ...extra,
  ];

  // The parts' step: its stdin is ours to write, its stdout their protocol lines.
  let say!: ReadableStreamDefaultController<Uint8Array>;
  const verdicts = new ReadableStream<Uint8Array>({ start: (c) => void (say = c) });
  const tell = (v: Verdict) => {
    try {
      say.enqueue(new TextEncoder().encode(v.kind === "stop" ? "stop\n" : `status ${v.code}\n`));
      say.close();
    } catch {
      // told already
    }
  };
  const ready = new Set<number>();
  const done = new Map<number, number>();
  let failure: number | undefined;
  let allReady!: (ok: boolean) => void;
  const readiness = new Promise<boolean>((resolve) => allReady = resolve);
  const onPartLine = (labelled: string) => {
    const l = parsePartLine(labelled.replace(/^\s*\d{1,3}: /, ""));
    if (l?.kind === "ready" && l.node < n) {
      ready.add(l.node);
      if (ready.size === n) allReady(true);
    } else if (l?.kind === "done" && l.node < n) {
      done.set(l.node, l.code);
    } else if (l?.kind === "failed") {
      failure ??= l.code;
      tell({ kind: "stop" });
      allReady(false);
    }
  };
  const [program, args] = asAccount(
    input.account,
    "srun",
    // A part that dies without a word (killed, say) ends the step: nobody waits for it.
    step([
      "--ntasks-per-node=1",
      `--ntasks=${n}`,
      "--input=all",
      "--kill-on-bad-exit=1",
      // Each line says which node it is from ("I: "): the log names the node.
      "--label",
      "--",
      WRAPPER_PATH,
      "--node-part",
    ]),
  );
  const parts = exec(program, args, {
    env,
    stdin: verdicts,
    stdoutTo: lineSink(onPartLine, MAX_PROTOCOL_LINE),
    stderrTo: progressSink({ labelled: true }),
    okCodes: Array.from({ length: 256 }, (_, i) => i),
    what: `starting job ${q(input.slurmJob)} on its ${n} nodes`,
  }).then((r) => r.code);
  // Parts that end before all were ready (or cannot start at all) mean no command.
  parts.then(() => allReady(false), () => allReady(false));

  input.notify(`starting on ${n} nodes: ${input.hosts.join(", ")}`);
  let ran = false;
  let status = 0;
  try {
    if (await readiness) {
      input.notify(`all ${n} nodes ready`);
      input.notify("job started");
      const [cmd, cmdArgs] = asAccount(
        input.account,
        "srun",
        step([`--ntasks-per-node=${input.tasksPerNode}`, "--", "bash", "-c", TASK]),
      );
      ran = true;
      // The tasks write into the nodes' output containers; anything else they say is withheld.
      status = (await exec(cmd, cmdArgs, {
        env: { ...env, SEALBATCH_TASK_DIRS: `${input.workDir}/sealbatch-job-${input.slurmJob}` },
        stdoutTo: progressSink(),
        stderrTo: progressSink(),
        okCodes: Array.from({ length: 256 }, (_, i) => i),
        what: `running the command of job ${q(input.slurmJob)}`,
      })).code;
      tell({ kind: "status", code: status });
    } else {
      tell({ kind: "stop" });
    }
  } catch (err) {
    tell({ kind: "stop" });
    await parts.catch(() => {});
    throw err;
  }
  const partsCode = await parts;
  if (!ran) {
    const code = failure ?? (partsCode === 0 ? 1 : partsCode);
    input.notify(`stopped before the command ran on any node (exit status ${code})`);
    return { exitCode: code, ran };
  }
  // A node that could not seal its results fails the job even when the command succeeded.
  const sealed = done.size === n ? Math.max(...done.values()) : failure ?? (partsCode || 1);
  return { exitCode: status !== 0 ? status : sealed, ran };
}

/** Checks a job of several nodes must pass on every node before anything of it is used. */
export function checkAllocation(
  o: { job: string; nodes: number; hosts: string[]; workDir: string | undefined },
): void {
  if (o.hosts.length !== o.nodes) {
    throw refusal(
      `job ${q(o.job)} was sealed for ${o.nodes} nodes, but Slurm allocated ${o.hosts.length}`,
      { hint: "submit it with --nodes as sealed (sealbatch run does)" },
    );
  }
  if (o.workDir === undefined) {
    throw new SealbatchError(
      "input",
      "a job of several nodes needs work_dir in the node config (a node-local tmpfs)",
      { hint: "set work_dir in /etc/sealbatch/node.yaml on every node (docs/admin.md)" },
    );
  }
}

/** This node's index in the allocation: its position in Slurm's node list. */
export function nodeIndex(hosts: string[], self: string): number {
  const index = hosts.indexOf(self);
  if (index < 0) {
    throw refusal(`this node (${q(self)}) is not one of the job's nodes (${hosts.join(", ")})`);
  }
  return index;
}

/** A part outside a step of a job of several nodes is refused before anything. */
export function refuseLonePart(slurmJob: string | undefined): void {
  if (slurmJob === undefined) {
    throw usageError("--node-part runs only inside a Slurm job of several nodes", {
      hint: "the node side starts it through srun; run.sh calls decrypt_and_execute without it",
    });
  }
}
