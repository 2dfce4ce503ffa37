/**
 * Slurm over a shell: sbatch with the site's partition and `--exclusive`,
 * state through `squeue -t all` (with `-a`, since the secure partition is
 * hidden) and `sacct` as fallback, a wait that ends on every terminal state,
 * scancel, and the job's output file.
 */
import { EXIT_CODES, inputError, q, SealbatchError } from "../util/errors.ts";
import { remotePath, sh } from "../remote/quote.ts";
import type { SlurmResources } from "../config/site.ts";
import type { Shell } from "./shell.ts";

export type SlurmProgram = "sbatch" | "squeue" | "sacct" | "scancel" | "scontrol";

export interface SlurmSettings {
  partition: string;
  exclusive: boolean;
  /** Program paths (the reference site uses /opt/slurm/bin/sbatch). */
  programs: Partial<Record<SlurmProgram, string>>;
  resources: SlurmResources;
}

export function defaultSlurmSettings(): SlurmSettings {
  return { partition: "secure", exclusive: true, programs: {}, resources: {} };
}

const prog = (s: SlurmSettings, name: SlurmProgram) => sh(s.programs[name] ?? name);

const JOB_ID_RE = /^\d{1,12}(_\d{1,9})?$/;
const PARTITION_RE = /^[A-Za-z0-9_.-]{1,64}(,[A-Za-z0-9_.-]{1,64})*$/;

export function jobId(id: string): string {
  if (!JOB_ID_RE.test(id)) {
    throw inputError(`invalid Slurm job id ${q(id)}: expected digits such as 1234`);
  }
  return id;
}

export const TERMINAL_STATES = [
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
  "PREEMPTED",
  "REVOKED",
  "SPECIAL_EXIT",
] as const;
export type TerminalState = (typeof TERMINAL_STATES)[number];

export function isTerminal(state: string): state is TerminalState {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

/** The result of a finished job; each terminal state maps to its own outcome. */
export type JobOutcome =
  | "completed"
  | "failed"
  | "cancelled"
  | "timeout"
  | "node_fail"
  | "out_of_memory"
  | "other";

export function outcomeOf(state: TerminalState): JobOutcome {
  switch (state) {
    case "COMPLETED":
      return "completed";
    case "FAILED":
      return "failed";
    case "CANCELLED":
      return "cancelled";
    case "TIMEOUT":
    case "DEADLINE":
      return "timeout";
    case "NODE_FAIL":
    case "BOOT_FAIL":
      return "node_fail";
    case "OUT_OF_MEMORY":
      return "out_of_memory";
    default:
      return "other";
  }
}

/**
 * Exit status of `job wait` (and `run`) per outcome, so scripts can tell a
 * cancelled job from one that ran out of time. FAILED keeps the general
 * "the job failed" code 8; the others have their own.
 */
export const OUTCOME_EXIT_CODES: Record<JobOutcome, number> = {
  completed: 0,
  failed: EXIT_CODES.job,
  timeout: 11,
  cancelled: 12,
  node_fail: 13,
  out_of_memory: 14,
  other: 15,
};

/** A job that reached a terminal state other than COMPLETED. */
export class JobEndedError extends SealbatchError {
  readonly result: JobResult;

  constructor(result: JobResult) {
    const code = result.exitCode ? `, exit code ${result.exitCode}` : "";
    super("job", `job ${result.id} ended ${result.state} (${result.outcome}${code})`, {
      hint: `see its Slurm output: sealbatch job fetch ${result.id} --out DIR`,
    });
    this.result = result;
  }

  override get exitCode(): number {
    return OUTCOME_EXIT_CODES[this.result.outcome];
  }
}

/** The argument list of sbatch for one batch script (each element quoted later). */
export function sbatchArgs(
  settings: SlurmSettings,
  script: string,
  opts: { output?: string; jobName?: string } = {},
): string[] {
  if (!PARTITION_RE.test(settings.partition)) {
    throw inputError(`invalid partition name ${q(settings.partition)}`);
  }
  const r = settings.resources;
  const args = ["--parsable", "-p", settings.partition];
  if (settings.exclusive) args.push("--exclusive");
  if (opts.jobName) args.push("-J", opts.jobName);
  if (opts.output) args.push("-o", opts.output);
  if (r.time) args.push("--time", r.time);
  if (r.mem) args.push("--mem", r.mem);
  if (r.cpus !== undefined) args.push("--cpus-per-task", String(r.cpus));
  if (r.gres) args.push("--gres", r.gres);
  if (r.account) args.push("--account", r.account);
  if (r.reservation) args.push("--reservation", r.reservation);
  for (const extra of r.extraArgs ?? []) {
    if (!extra.startsWith("--")) {
      throw inputError(`extra sbatch argument ${q(extra)}: expected the --name=value form`);
    }
    args.push(extra);
  }
  args.push(remotePath(script, "batch script"));
  return args;
}

export function sbatchCommand(
  settings: SlurmSettings,
  script: string,
  opts: { output?: string; jobName?: string; cwd?: string } = {},
): string {
  const cd = opts.cwd ? `cd -- ${sh(remotePath(opts.cwd))} && ` : "";
  return cd + [prog(settings, "sbatch"), ...sbatchArgs(settings, script, opts).map(sh)].join(" ");
}

/** `--parsable` output: `ID` or `ID;CLUSTER`. */
export function parseSbatch(stdout: string): string {
  const m = /^(\d+)(?:;(\S+))?$/.exec(stdout.trim());
  if (!m) {
    throw new SealbatchError(
      "remote",
      `sbatch printed no job id (got ${q(stdout.trim().slice(0, 200))})`,
    );
  }
  return m[1]!;
}

function slurmError(what: string, stderr: string, code: number): SealbatchError {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const main = lines.find((l) => /error:/.test(l) && /failed/.test(l)) ?? lines.at(-1) ??
    `exit status ${code}`;
  const detail = main.replace(/^\S+: error: /, "");
  let hint: string | undefined;
  if (/invalid partition/i.test(stderr)) {
    hint =
      "check the partition name in the site settings (hidden partitions exist but do not show in sinfo)";
  }
  return new SealbatchError("remote", `${what}: ${detail}`, hint ? { hint } : {});
}

export async function submit(
  shell: Shell,
  settings: SlurmSettings,
  script: string,
  opts: { output?: string; jobName?: string; cwd?: string } = {},
): Promise<string> {
  const r = await shell.run(sbatchCommand(settings, script, opts));
  if (r.code !== 0) {
    throw slurmError(
      `cannot submit ${q(script)} to partition ${q(settings.partition)}`,
      r.stderr,
      r.code,
    );
  }
  return parseSbatch(r.stdout);
}

export interface JobState {
  id: string;
  state: string;
  /** `code:signal` once the job has ended (from scontrol or sacct). */
  exitCode?: string;
  reason?: string;
  source: "squeue" | "sacct";
}

const firstLine = (text: string) => text.split("\n").map((l) => l.trim()).find((l) => l !== "");

/** `ExitCode=N:S` of a job slurmctld still holds (squeue does not print it). */
async function exitCodeOf(
  shell: Shell,
  settings: SlurmSettings,
  id: string,
): Promise<string | undefined> {
  const r = await shell.run(`${prog(settings, "scontrol")} show job -o ${sh(id)}`);
  return r.code === 0 ? /(?:^| )ExitCode=(\d+:\d+)/.exec(r.stdout)?.[1] : undefined;
}

/**
 * The current state: squeue while slurmctld holds the job (until MinJobAge
 * after its end), then sacct. `undefined` when sacct does not (yet) know it.
 */
export async function jobState(
  shell: Shell,
  settings: SlurmSettings,
  id: string,
): Promise<JobState | undefined> {
  jobId(id);
  const sq = await shell.run(`${prog(settings, "squeue")} -a -h -t all -j ${sh(id)} -o '%T|%r'`);
  if (sq.code === 0) {
    const line = firstLine(sq.stdout);
    if (line) {
      const [state, reason] = line.split("|");
      if (!state || !/^[A-Z_]+$/.test(state)) {
        throw new SealbatchError(
          "remote",
          `squeue printed an unexpected state ${q(line.slice(0, 100))}`,
        );
      }
      const exitCode = isTerminal(state) ? await exitCodeOf(shell, settings, id) : undefined;
      return {
        id,
        state,
        ...(reason && reason !== "None" ? { reason } : {}),
        ...(exitCode ? { exitCode } : {}),
        source: "squeue",
      };
    }
  } else if (!/invalid job id/i.test(sq.stderr)) {
    throw slurmError(`cannot query job ${id}`, sq.stderr, sq.code);
  }
  const sa = await shell.run(`${prog(settings, "sacct")} -X -n -P -j ${sh(id)} -o State,ExitCode`);
  if (sa.code !== 0) {
    if (/accounting storage is disabled/i.test(sa.stderr + sa.stdout)) {
      throw new SealbatchError(
        "remote",
        `cannot tell how job ${id} ended: squeue no longer knows it and sacct cannot help ` +
          "(Slurm accounting storage is disabled on this cluster)",
        {
          hint:
            "the job ended longer ago than the cluster's MinJobAge, or the id is wrong; its Slurm output file still shows what happened",
        },
      );
    }
    throw slurmError(`cannot query job ${id} with sacct`, sa.stderr, sa.code);
  }
  const line = firstLine(sa.stdout);
  if (!line) return undefined; // not (yet) in the accounting database
  const [stateText, exitCode] = line.split("|");
  const state = (stateText ?? "").split(/\s+/)[0]!.replace(/\+$/, ""); // "CANCELLED by 1000"
  if (!/^[A-Z_]+$/.test(state)) {
    throw new SealbatchError(
      "remote",
      `sacct printed an unexpected state ${q(line.slice(0, 100))}`,
    );
  }
  return { id, state, ...(exitCode ? { exitCode } : {}), source: "sacct" };
}

export interface WaitOptions {
  onState?: (s: JobState) => void;
  /** First poll interval; doubles up to maxIntervalMs (default 1 s .. 30 s). */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JobResult {
  id: string;
  state: TerminalState;
  outcome: JobOutcome;
  exitCode?: string;
}

/** Poll with backoff until the job reaches any terminal state. */
export async function waitForJob(
  shell: Shell,
  settings: SlurmSettings,
  id: string,
  opts: WaitOptions = {},
): Promise<JobResult> {
  let interval = opts.intervalMs ?? 1000;
  const max = opts.maxIntervalMs ?? 30_000;
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  let last = "";
  let unknownSince = 0;
  for (;;) {
    const s = await jobState(shell, settings, id);
    if (s === undefined) {
      // Purged from slurmctld and no accounting: never seen again, so stop instead of looping.
      unknownSince ||= Date.now();
      if (Date.now() - unknownSince > 10_000) {
        throw new SealbatchError("job", `job ${id} is unknown to squeue and sacct`, {
          hint:
            "the job id may be wrong, or it ended long ago and accounting is disabled on this cluster",
        });
      }
    } else {
      unknownSince = 0;
      if (s.state !== last) {
        last = s.state;
        opts.onState?.(s);
        interval = opts.intervalMs ?? 1000; // a change: look again soon
      }
      if (isTerminal(s.state)) {
        return {
          id,
          state: s.state,
          outcome: outcomeOf(s.state),
          ...(s.exitCode ? { exitCode: s.exitCode } : {}),
        };
      }
    }
    if (Date.now() + interval > deadline) {
      // Not an end state of the job: it keeps running, like after Ctrl-C.
      throw new SealbatchError(
        "interrupted",
        `stopped waiting for job ${id}: it did not finish in time (last state ${
          last || "unknown"
        }); the job keeps running`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
    if (opts.signal?.aborted) {
      throw new SealbatchError("interrupted", `stopped waiting for job ${id}`);
    }
    interval = Math.min(interval * 2, max);
  }
}

export async function cancel(shell: Shell, settings: SlurmSettings, id: string): Promise<void> {
  const r = await shell.run(`${prog(settings, "scancel")} ${sh(jobId(id))}`);
  if (r.code !== 0) throw slurmError(`cannot cancel job ${id}`, r.stderr, r.code);
}

export interface JobFiles {
  workDir: string;
  stdout: string;
  command: string;
}

/** Where the job ran and wrote its Slurm output (from `scontrol show job -o`). */
export async function jobFiles(
  shell: Shell,
  settings: SlurmSettings,
  id: string,
): Promise<JobFiles> {
  const r = await shell.run(`${prog(settings, "scontrol")} show job -o ${sh(jobId(id))}`);
  if (r.code !== 0) throw slurmError(`cannot look up job ${id}`, r.stderr, r.code);
  const field = (name: string) => {
    const m = new RegExp(`(?:^| )${name}=(\\S+)`).exec(r.stdout);
    if (!m) throw new SealbatchError("remote", `scontrol did not report ${name} for job ${id}`);
    return m[1]!;
  };
  return { workDir: field("WorkDir"), stdout: field("StdOut"), command: field("Command") };
}

/** Whether the partition exists (`sinfo` hides hidden partitions; scontrol names them). */
export async function partitionVisible(shell: Shell, settings: SlurmSettings): Promise<boolean> {
  const r = await shell.run(
    `${prog(settings, "scontrol")} -a -o show partition ${sh(settings.partition)}`,
  );
  return r.code === 0 && r.stdout.includes(`PartitionName=${settings.partition} `);
}

/** Full path of a program on the remote PATH, or undefined. */
export async function findProgram(
  shell: Shell,
  settings: SlurmSettings,
  name: SlurmProgram,
): Promise<string | undefined> {
  const r = await shell.run(`command -v ${prog(settings, name)}`);
  return r.code === 0 ? r.stdout.trim() : undefined;
}
