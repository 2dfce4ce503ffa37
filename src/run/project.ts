/**
 * The jobs of one project: <project>/.sealbatch/jobs/<JOB>/ (0700), each with
 * its state.json (0600). A job id is the spec's name and 8 random hex digits.
 * `sealbatch run` resumes the newest unfinished job of the same spec and
 * input; `job list` / `job show` read the same files.
 */
import { inputError, q } from "../util/errors.ts";
import { exists, readTextCapped } from "../util/files.ts";
import { type NodeLog, parseNodeLog } from "../job/progress.ts";
import { NAME_RE } from "../util/user.ts";
import type { Receipt } from "../job/receipt.ts";
import { RunState } from "./state.ts";
import { type StepName, STEPS } from "./steps.ts";

export const STATE_DIR = ".sealbatch";

export interface Plan {
  spec: string;
  name: string;
  input: string;
  outputs: string;
  createdAt: string;
  /** The site profile the job was run on (absent for the local executor). */
  site?: string;
}

export interface JobEntry {
  job: string;
  dir: string;
  plan: Plan | undefined;
  /** Finished steps, in pipeline order. */
  steps: StepName[];
  /** The last finished step, or "new". */
  stage: string;
  finished: boolean;
  slurmJob?: string;
  slurmState?: string;
  exitCode?: number;
  /** The receipt as fetched and verified by the run (absent before verify-receipt). */
  receipt?: Receipt;
  /** When `job clean` removed its files on the shared side. */
  cleanedAt?: string;
}

/** What the job's Slurm log (fetched by the run) says each node did; empty before the fetch. */
export async function nodeLogOf(entry: JobEntry): Promise<NodeLog | undefined> {
  if (entry.slurmJob === undefined) return undefined;
  const text = await readTextCapped(
    `${entry.dir}/results/slurm-${entry.slurmJob}.out`,
    1 << 20,
    "Slurm log",
  ).catch(() => undefined);
  return text === undefined ? undefined : parseNodeLog(text);
}

export function projectStateDir(project: string): string {
  return `${project.replace(/\/+$/, "") || "/"}/${STATE_DIR}`;
}

function parentOf(dir: string): string | undefined {
  const i = dir.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? (dir === "/" ? undefined : "/") : dir.slice(0, i);
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d: string | undefined = dir.replace(/\/+$/, "") || "/"; d; d = parentOf(d)) out.push(d);
  return out;
}

/**
 * Where a spec's jobs live: beside the spec (`<spec dir>/.sealbatch`), so
 * that the same spec is the same project from wherever it is run. A state
 * directory further up (or below the current directory, where earlier
 * versions kept it) that already holds jobs of this very spec is used
 * instead, as git finds its repository: a second run never starts a second
 * job beside the first.
 */
export async function stateDirForSpec(specPath: string, cwd = Deno.cwd()): Promise<string> {
  const specDir = parentOf(specPath) ?? "/";
  for (const dir of new Set([...ancestors(specDir), ...ancestors(cwd)])) {
    const root = projectStateDir(dir);
    if (!(await exists(`${root}/jobs`))) continue;
    if ((await listJobs(root)).some((j) => j.plan?.spec === specPath)) return root;
  }
  return projectStateDir(specDir);
}

/**
 * The project of `job list|show|status|...`: `--project DIR`, else the
 * nearest directory from `cwd` upward that holds jobs (`.sealbatch/jobs`).
 */
export async function findStateDir(project: string | undefined, cwd = Deno.cwd()): Promise<string> {
  if (project !== undefined) return projectStateDir(project);
  for (const dir of ancestors(cwd)) {
    const root = projectStateDir(dir);
    if (await exists(`${root}/jobs`)) return root;
  }
  return projectStateDir(cwd);
}

export function newJobId(name: string): string {
  const hex = [...crypto.getRandomValues(new Uint8Array(4))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${name.slice(0, 55)}-${hex}`;
}

export function jobDir(stateRoot: string, job: string): string {
  if (!NAME_RE.test(job)) throw inputError(`invalid job id ${q(job)}`);
  return `${stateRoot}/jobs/${job}`;
}

async function readEntry(stateRoot: string, job: string): Promise<JobEntry> {
  const dir = jobDir(stateRoot, job);
  const state = await RunState.open(dir, job);
  const steps = STEPS.filter((s) => state.done(s));
  const entry: JobEntry = {
    job,
    dir,
    plan: state.get<Plan>("plan"),
    steps,
    stage: steps.at(-1) ?? "new",
    finished: state.done("revoke"),
  };
  const id = state.get<string>("submit");
  if (id) entry.slurmJob = id;
  const waited = state.get<{ state: string }>("wait");
  if (waited) entry.slurmState = waited.state;
  const cleaned = state.get<{ at: string }>("clean");
  if (cleaned) entry.cleanedAt = cleaned.at;
  const receipt = state.get<Receipt>("verify-receipt");
  if (receipt) {
    entry.receipt = receipt;
    entry.exitCode = receipt.exit_code;
  }
  return entry;
}

/** Every job of the project, oldest first. */
export async function listJobs(stateRoot: string): Promise<JobEntry[]> {
  const root = `${stateRoot}/jobs`;
  if (!(await exists(root))) return [];
  const out: JobEntry[] = [];
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory || !NAME_RE.test(e.name)) continue;
    if (!(await exists(`${root}/${e.name}/state.json`))) continue;
    out.push(await readEntry(stateRoot, e.name));
  }
  return out.sort((a, b) =>
    (a.plan?.createdAt ?? "").localeCompare(b.plan?.createdAt ?? "") || a.job.localeCompare(b.job)
  );
}

const SLURM_ID_RE = /^\d{1,12}(_\d{1,9})?$/;

/** One job of the project, by its job id or its Slurm id. */
export async function showJob(stateRoot: string, ref: string): Promise<JobEntry> {
  if (SLURM_ID_RE.test(ref)) {
    const found = (await listJobs(stateRoot)).filter((j) => j.slurmJob === ref);
    if (found.length === 1) return found[0]!;
    throw inputError(
      found.length === 0
        ? `no job of this project has Slurm id ${q(ref)} (in ${q(stateRoot)})`
        : `Slurm id ${q(ref)} names ${found.length} jobs of this project (sites differ)`,
      { hint: "give the project's job id, as 'sealbatch job list' shows it" },
    );
  }
  const dir = jobDir(stateRoot, ref);
  if (!(await exists(`${dir}/state.json`))) {
    throw inputError(`no job ${q(ref)} in ${q(stateRoot)}`, {
      hint: "see the project's jobs with 'sealbatch job list'; a Slurm id (digits) works too",
    });
  }
  return await readEntry(stateRoot, ref);
}

export interface SlurmRef {
  slurmJob: string;
  /** The project's job, when the reference names one (or its Slurm id is one of them). */
  entry?: JobEntry;
}

/**
 * A Slurm id, or a project job id that was submitted: what `job status`,
 * `wait`, `cancel` and `fetch` take.
 */
export async function slurmRef(stateRoot: string, ref: string): Promise<SlurmRef> {
  if (SLURM_ID_RE.test(ref)) {
    const entry = (await listJobs(stateRoot)).find((j) => j.slurmJob === ref);
    return { slurmJob: ref, ...(entry ? { entry } : {}) };
  }
  if (!NAME_RE.test(ref)) {
    throw inputError(`invalid job ${q(ref)}: expected a Slurm id (digits) or a job id`, {
      hint: "see the project's jobs with 'sealbatch job list'",
    });
  }
  const entry = await showJob(stateRoot, ref);
  if (!entry.slurmJob) {
    throw inputError(`job ${q(ref)} was not submitted (it stopped after ${entry.stage})`, {
      hint: "run its spec again to continue it",
    });
  }
  return { slurmJob: entry.slurmJob, entry };
}

/**
 * Per input, the newest unfinished job of this spec, to resume. One pass over
 * the project's jobs serves a whole cohort.
 */
export async function resumableJobs(stateRoot: string, spec: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const j of await listJobs(stateRoot)) {
    if (!j.finished && j.plan?.spec === spec) found.set(j.plan.input, j.job);
  }
  return found;
}
