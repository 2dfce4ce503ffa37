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
  if (r.nodes !== undefined) args.push("--nodes", String(r.nodes));
  if (r.tasksPerNode !== undefined) args.push("--ntasks-per-node", String(r.tasksPerNode));
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
  const lines = stderr.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => l !== "");
  const main = lines.find((l) => /error:/.test(l) && /failed/.test(l)) ?? lines.at(-1) ??
    `exit status ${code}`;
  // The site's text goes to the user's terminal: no control characters, one short line.
  // deno-lint-ignore no-control-regex
  const clean = main.replace(/^\S+: error: /, "").replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  const detail = clean.length > 300 ? `${clean.slice(0, 297)}...` : clean;
  let hint: string | undefined;
  if (/invalid partition/i.test(stderr)) {
    hint =
      "check the partition name in the site settings (hidden partitions exist but do not show in sinfo)";
  }
  return new SealbatchError("remote", `${what}: ${detail}`, hint ? { hint } : {});
}

export interface SubmitRequest {
  settings: SlurmSettings;
  script: string;
  opts?: { output?: string; jobName?: string; cwd?: string };
}

export async function submit(
  shell: Shell,
  settings: SlurmSettings,
  script: string,
  opts: { output?: string; jobName?: string; cwd?: string } = {},
): Promise<string> {
  const [r] = await submitMany(shell, [{ settings, script, opts }]);
  if (r!.status === "rejected") throw r!.reason;
  return r!.value;
}

/**
 * Several sbatch calls in one remote command (a cohort's jobs ready at the
 * same time share one session); each gets its own job id or error. Each
 * call's output (stdout and stderr) is followed by a line "MARK INDEX STATUS"
 * with a random MARK, which sbatch cannot print by chance.
 */
export async function submitMany(
  shell: Shell,
  requests: SubmitRequest[],
): Promise<PromiseSettledResult<string>[]> {
  // A request refused here (a malformed partition name) never reaches the site.
  const commands = requests.map((r) => {
    try {
      return sbatchCommand(r.settings, r.script, r.opts);
    } catch (err) {
      return err instanceof SealbatchError ? err : new SealbatchError("input", String(err));
    }
  });
  const mark = `sealbatch-${crypto.randomUUID().replaceAll("-", "")}`;
  const lines = commands.flatMap((c, i) =>
    typeof c === "string"
      ? [`o=$(${c} 2>&1); c=$?; printf '%s\n%s %d %d\n' "$o" ${mark} ${i} "$c"`]
      : []
  );
  const r = lines.length > 0
    ? await shell.run(lines.join("\n"))
    : { code: 0, stdout: "", stderr: "" };
  const outputs = new Map<number, { code: number; text: string }>();
  let text: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = new RegExp(`^${mark} (\\d+) (\\d+)$`).exec(line);
    if (!m) {
      text.push(line);
      continue;
    }
    outputs.set(Number(m[1]), { code: Number(m[2]), text: text.join("\n") });
    text = [];
  }
  return requests.map((req, i) => {
    const what = `cannot submit ${q(req.script)} to partition ${q(req.settings.partition)}`;
    const out = outputs.get(i);
    const command = commands[i];
    try {
      if (command instanceof SealbatchError) throw command;
      if (out === undefined) throw slurmError(what, r.stderr, r.code || 1);
      if (out.code !== 0) throw slurmError(what, out.text, out.code);
      // Warnings may come first (stderr is merged): the id is the last line.
      const last = out.text.trim().split("\n").at(-1) ?? "";
      return { status: "fulfilled" as const, value: parseSbatch(last) };
    } catch (err) {
      return { status: "rejected" as const, reason: err };
    }
  });
}

export interface JobState {
  id: string;
  state: string;
  /** `code:signal` once the job has ended (from scontrol or sacct). */
  exitCode?: string;
  reason?: string;
  source: "squeue" | "sacct";
}

/** One job's answer in a state query: its state, not known (yet), or why it cannot be told. */
export type StateAnswer = JobState | undefined | SealbatchError;

const STATE_RE = /^[A-Z_]+$/;

/**
 * `ExitCode=N:S` of the jobs slurmctld still holds (squeue does not print it),
 * in one command.
 */
async function exitCodesOf(
  shell: Shell,
  settings: SlurmSettings,
  ids: string[],
): Promise<Map<string, string>> {
  const r = await shell.run(
    `for j in ${ids.map(sh).join(" ")}; do ${prog(settings, "scontrol")} show job -o "$j"; done`,
  );
  const codes = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const id = /(?:^| )JobId=(\d+)/.exec(line)?.[1];
    const code = /(?:^| )ExitCode=(\d+:\d+)/.exec(line)?.[1];
    if (id && code) codes.set(id, code);
  }
  return codes;
}

/**
 * The current state of each job, in one squeue query for all of them (a
 * cohort's jobs are watched together): squeue while slurmctld holds a job
 * (until MinJobAge after its end), then sacct. `undefined` when sacct does not
 * (yet) know it; an error for the jobs sacct cannot answer for. Throws when
 * squeue itself fails.
 */
export async function jobStates(
  shell: Shell,
  settings: SlurmSettings,
  ids: readonly string[],
): Promise<Map<string, StateAnswer>> {
  const out = new Map<string, StateAnswer>();
  if (ids.length === 0) return out;
  for (const id of ids) jobId(id);
  const sq = await shell.run(
    `${prog(settings, "squeue")} -a -h -t all -j ${sh(ids.join(","))} -o '%i|%T|%r'`,
  );
  // All ids unknown: squeue says "Invalid job id" and fails; some unknown: they are just absent.
  if (sq.code !== 0 && !/invalid job id/i.test(sq.stderr)) {
    throw slurmError(`cannot query job ${ids.join(",")}`, sq.stderr, sq.code);
  }
  const seen = new Map<string, { state: string; reason: string | undefined }>();
  if (sq.code === 0) {
    for (const line of sq.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "")) {
      const [id, state, reason] = line.split("|");
      if (!id || !state || !STATE_RE.test(state)) {
        throw new SealbatchError(
          "remote",
          `squeue printed an unexpected state ${q(line.slice(0, 100))}`,
        );
      }
      seen.set(id, { state, reason });
    }
  }
  const ended = ids.filter((id) => isTerminal(seen.get(id)?.state ?? ""));
  const codes = ended.length > 0 ? await exitCodesOf(shell, settings, ended) : new Map();
  for (const id of ids) {
    const s = seen.get(id);
    if (!s) continue;
    const exitCode = codes.get(id);
    out.set(id, {
      id,
      state: s.state,
      ...(s.reason && s.reason !== "None" ? { reason: s.reason } : {}),
      ...(exitCode ? { exitCode } : {}),
      source: "squeue",
    });
  }
  const missing = ids.filter((id) => !seen.has(id));
  if (missing.length > 0) {
    for (const [id, answer] of await fromSacct(shell, settings, missing)) out.set(id, answer);
  }
  return out;
}

async function fromSacct(
  shell: Shell,
  settings: SlurmSettings,
  ids: string[],
): Promise<Map<string, StateAnswer>> {
  const out = new Map<string, StateAnswer>(ids.map((id) => [id, undefined]));
  const sa = await shell.run(
    `${prog(settings, "sacct")} -X -n -P -j ${sh(ids.join(","))} -o JobID,State,ExitCode`,
  );
  if (sa.code !== 0) {
    for (const id of ids) {
      out.set(
        id,
        /accounting storage is disabled/i.test(sa.stderr + sa.stdout)
          ? new SealbatchError(
            "remote",
            `cannot tell how job ${id} ended: squeue no longer knows it and sacct cannot help ` +
              "(Slurm accounting storage is disabled on this cluster)",
            {
              hint:
                "the job ended longer ago than the cluster's MinJobAge, or the id is wrong; its Slurm output file still shows what happened",
            },
          )
          : slurmError(`cannot query job ${id} with sacct`, sa.stderr, sa.code),
      );
    }
    return out;
  }
  for (const line of sa.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "")) {
    const [id, stateText, exitCode] = line.split("|");
    if (!id || !out.has(id) || out.get(id) !== undefined) continue; // not asked, or seen already
    const state = (stateText ?? "").split(/\s+/)[0]!.replace(/\+$/, ""); // "CANCELLED by 1000"
    if (!STATE_RE.test(state)) {
      throw new SealbatchError(
        "remote",
        `sacct printed an unexpected state ${q(line.slice(0, 100))}`,
      );
    }
    out.set(id, { id, state, ...(exitCode ? { exitCode } : {}), source: "sacct" });
  }
  return out;
}

/** The current state of one job (see jobStates). */
export async function jobState(
  shell: Shell,
  settings: SlurmSettings,
  id: string,
): Promise<JobState | undefined> {
  const answer = (await jobStates(shell, settings, [id])).get(id);
  if (answer instanceof SealbatchError) throw answer;
  return answer;
}

export interface JobResult {
  id: string;
  state: TerminalState;
  outcome: JobOutcome;
  exitCode?: string;
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
export interface PartitionCheck {
  visible: boolean;
  /** Its nodes, and the most one job may have. */
  nodes?: { total: number; max: number | "UNLIMITED" };
  /** What Slurm said when the partition is not visible (its own error line, or "not found"). */
  said?: string;
}

/**
 * Whether the partition exists for this user. When it does not, Slurm's own
 * words are kept: "not found" and "cannot reach the controller" need
 * different fixes.
 */
export async function partitionVisible(
  shell: Shell,
  settings: SlurmSettings,
): Promise<PartitionCheck> {
  const r = await shell.run(
    `${prog(settings, "scontrol")} -a -o show partition ${sh(settings.partition)}`,
  );
  if (r.code === 0 && r.stdout.includes(`PartitionName=${settings.partition} `)) {
    const total = Number(/\bTotalNodes=(\d+)/.exec(r.stdout)?.[1] ?? NaN);
    const max = /\bMaxNodes=(\d+|UNLIMITED)\b/.exec(r.stdout)?.[1] ?? "UNLIMITED";
    return { visible: true, nodes: { total, max: max === "UNLIMITED" ? max : Number(max) } };
  }
  // Remote text: one line, no control bytes.
  const said = `${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trim()).filter((l) => l !== "")
    // deno-lint-ignore no-control-regex
    .join("; ").replace(/[\x00-\x1f\x7f-\x9f]/g, "?").slice(0, 300);
  return {
    visible: false,
    said: said === "" ? `scontrol exited with status ${r.code} and said nothing` : said,
  };
}

/** The partition's nodes and the most one job may have ("UNLIMITED"); undefined: not visible. */
export async function partitionNodes(
  shell: Shell,
  settings: SlurmSettings,
): Promise<PartitionCheck["nodes"]> {
  return (await partitionVisible(shell, settings)).nodes;
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
