/**
 * Cohorts: `sealbatch run JOB.yaml --each 'inputs/*'` runs one job per
 * matching directory. Each job has its own data key, credentials, state and
 * outputs subdirectory (<outputs>/<input name>); all share the backend (one
 * SSH connection). One gate bounds how many jobs seal at a time (CPU), a
 * wider one how many escrow, upload and submit (mostly waiting, and the wider
 * it is the more small uploads share one remote command); a job that has
 * sealed goes on at once, so submissions start while later inputs still seal.
 * Submitted jobs are waited for together.
 */
import type { JobSpec } from "../config/job_spec.ts";
import { inputError, q, usageError } from "../util/errors.ts";
import { jobDir, newJobId, resumableJobs } from "./project.ts";
import { type Gate, type RunInput, runJob, type RunSummary } from "./run.ts";

export interface CohortInput extends Omit<RunInput, "spec" | "stateDir" | "jobId" | "gates"> {
  spec: JobSpec;
  /** Input directories, one job each. */
  inputs: string[];
  /** <project>/.sealbatch */
  stateRoot: string;
  /** Jobs sealing at the same time (four times as many escrow, upload and submit). */
  concurrency: number;
}

export interface CohortRow {
  input: string;
  job: string;
  summary?: RunSummary;
  error?: unknown;
}

const MAX_MATCHES = 10_000;

/** A gate that lets at most `n` callers run at once, in call order. */
export function limit(n: number): Gate {
  let running = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else running++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next waiter: no newcomer slips in between.
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
}

/** How many more jobs escrow, upload and submit than seal at once. */
const SUBMIT_WIDTH = 4;

function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end < 0) throw usageError(`--each: unclosed "[" in ${q(segment)}`);
      const body = segment.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Directories matching a shell-style pattern (*, ?, [...] per path segment), sorted. */
export async function matchDirectories(pattern: string, cwd = Deno.cwd()): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..") && segments.some((s) => /[*?[]/.test(s))) {
    throw usageError(`--each: ".." cannot be combined with wildcards in ${q(pattern)}`);
  }
  let found = [absolute ? "" : cwd];
  for (const segment of segments) {
    const next: string[] = [];
    for (const base of found) {
      if (!/[*?[]/.test(segment)) {
        next.push(`${base}/${segment}`);
        continue;
      }
      const re = segmentRegExp(segment);
      try {
        for await (const e of Deno.readDir(base || "/")) {
          if (e.name.startsWith(".") && !segment.startsWith(".")) continue;
          if (re.test(e.name)) next.push(`${base}/${e.name}`);
          if (next.length > MAX_MATCHES) {
            throw usageError(`--each ${q(pattern)} matches more than ${MAX_MATCHES} entries`);
          }
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
          throw err;
        }
      }
    }
    found = next;
  }
  const dirs: string[] = [];
  for (const path of found) {
    try {
      if ((await Deno.stat(path)).isDirectory) dirs.push(path);
    } catch {
      // a name that matched but vanished or is a dangling link
    }
  }
  if (dirs.length === 0) throw inputError(`--each ${q(pattern)} matches no directory`);
  return dirs.sort();
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export async function runCohort(c: CohortInput): Promise<CohortRow[]> {
  const names = new Set<string>();
  for (const input of c.inputs) {
    const name = baseName(input);
    if (names.has(name)) {
      throw inputError(`two inputs are named ${q(name)}; their outputs would collide`);
    }
    names.add(name);
  }
  const n = Math.max(1, c.concurrency);
  const gates = { seal: limit(n), submit: limit(SUBMIT_WIDTH * n) };
  const resumable = await resumableJobs(c.stateRoot, c.spec.path);
  const rows: CohortRow[] = c.inputs.map((input) => ({
    input,
    job: resumable.get(input) ?? newJobId(c.spec.name),
  }));
  const { inputs: _inputs, stateRoot, concurrency: _c, spec, ...shared } = c;
  await Promise.all(rows.map(async (row) => {
    try {
      row.summary = await runJob({
        ...shared,
        spec: {
          ...spec,
          input: { kind: "dir", path: row.input },
          outputs: `${spec.outputs}/${baseName(row.input)}`,
        },
        stateDir: jobDir(stateRoot, row.job),
        jobId: row.job,
        gates,
      });
    } catch (err) {
      row.error = err;
    }
  }));
  return rows;
}
