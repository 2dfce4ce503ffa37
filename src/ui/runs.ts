/**
 * Runs started from the UI: the same `runJob` / `runCohort` steps the CLI
 * calls, in this process, so a run outlives the browser tab that started it
 * and a reopened page shows it. Each run keeps a view of its jobs' steps
 * (from the run events) that the run page renders and streams. A passphrase
 * the signing key or the SSH identity needs is asked in the page and handed
 * to the step in memory; it is never stored or sent back.
 *
 * Cancel: before submission the run stops at its next escrow, upload or
 * submit (what it has escrowed stays for a resume: the keys page shows it);
 * after submission the Slurm job is cancelled and the run ends as Slurm
 * reports it.
 */
import type { SiteProfile } from "../config/site.ts";
import type { VaultClient } from "../kms/vault_client.ts";
import type { Backend } from "../run/backend.ts";
import type { CohortRow } from "../run/cohort.ts";
import type { RunEvent, RunSummary, StepName } from "../run/run.ts";
import { jobDir, newJobId, projectStateDir, resumableJobs, showJob } from "../run/project.ts";
import { q, reason, SealbatchError } from "../util/errors.ts";
import { writeFileAtomic } from "../util/files.ts";
import { randomToken } from "./guard.ts";
import { LOCAL_SITE, type LocalSite } from "./local_site.ts";

export interface RunRequest {
  /** Absolute path of the job spec. */
  spec: string;
  /** A site profile name or path, or LOCAL_SITE. */
  site: string;
  dryRun: boolean;
  /** Cohort: a pattern of input directories, relative to the project. */
  each?: string;
  concurrency: number;
  fresh: boolean;
}

export interface StepView {
  phase: "running" | "done" | "skipped";
  startedAt: number;
  /** Absent for a step an earlier UI process saw finish. */
  ms?: number;
  detail?: string;
}

export interface JobView {
  job: string;
  input?: string;
  steps: Map<StepName, StepView>;
  slurm?: string;
  slurmState?: string;
  notes: string[];
}

export interface Prompt {
  id: string;
  label: string;
}

export type RunStatus = "running" | "finished" | "failed" | "cancelled" | "interrupted";

const MAX_NOTES = 40;

class Cancelled extends SealbatchError {
  constructor() {
    super("interrupted", "the run was cancelled from the UI");
  }
}

export class UiRun {
  readonly id: string;
  readonly request: RunRequest;
  readonly startedAt: number;
  endedAt: number | undefined;
  status: RunStatus = "running";
  error: string | undefined;
  hint: string | undefined;
  where = "";
  readonly jobs = new Map<string, JobView>();
  summary: RunSummary | undefined;
  rows: CohortRow[] | undefined;
  prompt: Prompt | undefined;
  cancelRequested = false;
  readonly #listeners = new Set<() => void>();
  #answer: ((value: string) => void) | undefined;
  #refuse: ((err: unknown) => void) | undefined;
  /** Cancels submitted Slurm jobs when the run is cancelled. */
  onCancel: (() => Promise<void>) | undefined;

  constructor(request: RunRequest, id = randomToken(8), startedAt = Date.now()) {
    this.id = id;
    this.request = request;
    this.startedAt = startedAt;
  }

  get finished(): boolean {
    return this.status !== "running";
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  changed(): void {
    for (const fn of this.#listeners) fn();
  }

  jobView(job: string): JobView {
    let v = this.jobs.get(job);
    if (!v) {
      v = { job, steps: new Map(), notes: [] };
      this.jobs.set(job, v);
    }
    return v;
  }

  onEvent(e: RunEvent): void {
    const v = this.jobView(e.job);
    const now = Date.now();
    switch (e.phase) {
      case "start":
        v.steps.set(e.step, { phase: "running", startedAt: now });
        break;
      case "done":
        v.steps.set(e.step, {
          phase: "done",
          startedAt: v.steps.get(e.step)?.startedAt ?? now,
          ms: e.ms ?? 0,
          ...(v.steps.get(e.step)?.detail ? { detail: v.steps.get(e.step)!.detail! } : {}),
        });
        break;
      case "skipped":
        v.steps.set(e.step, { phase: "skipped", startedAt: now, detail: e.detail ?? "" });
        break;
      case "progress": {
        const s = v.steps.get(e.step);
        const pct = e.total ? ` ${Math.floor(((e.done ?? 0) / e.total) * 100)}%` : "";
        if (s) s.detail = `${e.detail ?? ""}${pct}`;
        if (e.step === "wait" && e.detail) v.slurmState = e.detail;
        break;
      }
      case "note":
        v.notes.push(`${e.step}: ${e.detail ?? ""}`);
        if (v.notes.length > MAX_NOTES) v.notes.splice(0, v.notes.length - MAX_NOTES);
        break;
    }
    this.changed();
  }

  /** Ask the page for a passphrase; the answer goes to the waiting step only. */
  ask(label: string): Promise<string> {
    if (this.cancelRequested) return Promise.reject(new Cancelled());
    return new Promise<string>((resolve, reject) => {
      this.prompt = { id: randomToken(8), label };
      this.#answer = resolve;
      this.#refuse = reject;
      this.changed();
    });
  }

  answer(promptId: string, passphrase: string): boolean {
    if (!this.prompt || this.prompt.id !== promptId || !this.#answer) return false;
    const answer = this.#answer;
    this.prompt = undefined;
    this.#answer = this.#refuse = undefined;
    answer(passphrase);
    this.changed();
    return true;
  }

  async cancel(): Promise<void> {
    if (this.finished) return;
    this.cancelRequested = true;
    if (this.#refuse) {
      const refuse = this.#refuse;
      this.prompt = undefined;
      this.#answer = this.#refuse = undefined;
      refuse(new Cancelled());
    }
    this.changed();
    await this.onCancel?.();
  }

  throwIfCancelled(): void {
    if (this.cancelRequested) throw new Cancelled();
  }
}

/**
 * The backend as the run sees it: refuses further uploads and submissions
 * once the run is cancelled, and remembers submitted Slurm jobs to cancel.
 * Everything else goes to the backend itself (a proxy, so that whatever the
 * Backend interface holds is passed on unchanged).
 */
function cancellable(inner: Backend, run: UiRun): Backend {
  const submitted = new Set<string>();
  const cancelNow = (id: string) => inner.cancel(id).catch(() => {});
  run.onCancel = async () => {
    for (const id of submitted) await cancelNow(id);
  };
  const own: Partial<Backend> = {
    upload(files, remoteDir, onProgress) {
      run.throwIfCancelled();
      return inner.upload(files, remoteDir, onProgress);
    },
    async submit(dir, resources, name) {
      run.throwIfCancelled();
      const id = await inner.submit(dir, resources, name);
      submitted.add(id);
      if (run.cancelRequested) await cancelNow(id);
      return id;
    },
    async wait(id, onState) {
      submitted.add(id);
      if (run.cancelRequested) await cancelNow(id);
      return await inner.wait(id, onState);
    },
    // The owner disposes the backend itself.
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop in own) return own[prop as keyof Backend];
      const value = Reflect.get(target, prop, target);
      // Bound to the backend: its methods use its private fields.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

interface Connected {
  backend: Backend;
  vault: VaultClient;
  site: SiteProfile | undefined;
  signKey: string;
  nodePublicKey: string;
  nodeCommand: string[];
  user?: string;
  close(): Promise<void>;
}

interface StoredRun {
  id: string;
  request: RunRequest;
  startedAt: number;
  endedAt?: number;
  status: RunStatus;
  jobs: string[];
  error?: string;
}

/** Every run of this UI process, and those an earlier UI process left unfinished. */
export class Runs {
  readonly project: string;
  readonly stateRoot: string;
  readonly #runs = new Map<string, UiRun>();
  readonly #local: () => Promise<LocalSite>;
  #saving: Promise<void> = Promise.resolve();

  constructor(project: string, local: () => Promise<LocalSite>) {
    this.project = project;
    this.stateRoot = projectStateDir(project);
    this.#local = local;
  }

  /** <project>/.sealbatch/ui-runs.json: which runs the UI started (ids and parameters only). */
  get file(): string {
    return `${this.stateRoot}/ui-runs.json`;
  }

  /** Runs an earlier UI process recorded as running are shown as interrupted. */
  async load(): Promise<void> {
    let stored: StoredRun[];
    try {
      stored = JSON.parse(await Deno.readTextFile(this.file));
      if (!Array.isArray(stored)) return;
    } catch {
      return;
    }
    for (const s of stored.slice(-50)) {
      if (typeof s?.id !== "string" || typeof s.request?.spec !== "string") continue;
      const run = new UiRun(s.request, s.id, s.startedAt);
      run.status = s.status === "running" ? "interrupted" : s.status;
      run.endedAt = s.endedAt;
      run.error = s.error;
      // What an earlier process's run got to is in its jobs' state files.
      for (const job of s.jobs ?? []) {
        const v = run.jobView(String(job));
        const entry = await showJob(this.stateRoot, v.job).catch(() => undefined);
        if (!entry) continue;
        for (const step of entry.steps) v.steps.set(step, { phase: "done", startedAt: 0 });
        if (entry.plan) v.input = entry.plan.input;
        if (entry.slurmJob) v.slurm = entry.slurmJob;
        if (entry.slurmState) v.slurmState = entry.slurmState;
      }
      this.#runs.set(run.id, run);
    }
  }

  #save(): Promise<void> {
    const data: StoredRun[] = [...this.#runs.values()].slice(-50).map((r) => ({
      id: r.id,
      request: r.request,
      startedAt: r.startedAt,
      ...(r.endedAt ? { endedAt: r.endedAt } : {}),
      status: r.status,
      jobs: [...r.jobs.keys()],
      ...(r.error ? { error: r.error } : {}),
    }));
    this.#saving = this.#saving.then(async () => {
      await Deno.mkdir(this.stateRoot, { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + "\n", {
        mode: 0o600,
        overwrite: true,
      });
    }).catch(() => {});
    return this.#saving;
  }

  list(): UiRun[] {
    return [...this.#runs.values()].sort((a, b) => b.startedAt - a.startedAt);
  }

  get(id: string): UiRun | undefined {
    return this.#runs.get(id);
  }

  /** Jobs some run of this process is working on right now. */
  activeJobs(): Set<string> {
    const out = new Set<string>();
    for (const r of this.#runs.values()) {
      if (!r.finished) { for (const j of r.jobs.keys()) out.add(j); }
    }
    return out;
  }

  start(request: RunRequest): UiRun {
    const run = new UiRun(request);
    this.#runs.set(run.id, run);
    this.#save();
    this.#execute(run).finally(() => this.#save());
    return run;
  }

  async #connect(run: UiRun): Promise<Connected> {
    if (run.request.site === LOCAL_SITE) {
      const local = await this.#local();
      return {
        backend: local.backend,
        vault: local.vault,
        site: undefined,
        signKey: local.signKey,
        nodePublicKey: local.nodePublicKey,
        nodeCommand: local.nodeCommand,
        user: local.user,
        close: () => Promise.resolve(),
      };
    }
    const { loadSiteProfile } = await import("../config/site.ts");
    const { sitePath } = await import("../config/site_path.ts");
    const { vaultClientFor } = await import("../cli/run.ts");
    const { SiteBackend } = await import("../run/site_backend.ts");
    const profile = await loadSiteProfile(sitePath(run.request.site));
    const signKey = profile.signKey;
    if (!signKey) {
      throw new SealbatchError("usage", `site ${q(profile.name)} has no sign_key`, {
        hint: "set sign_key in the profile: the UI signs jobs with the profile's key",
      });
    }
    const vault = await vaultClientFor(profile, run.request.dryRun);
    try {
      const identity = profile.ssh.identity;
      const backend = await SiteBackend.connect(profile, {
        ...(identity ? { passphrase: () => run.ask(`SSH identity ${identity}`) } : {}),
      });
      return {
        backend,
        vault,
        site: profile,
        signKey,
        nodePublicKey: profile.node.publicKey,
        nodeCommand: profile.node.command,
        close: async () => {
          await backend[Symbol.asyncDispose]();
          vault.close();
        },
      };
    } catch (err) {
      vault.close();
      throw err;
    }
  }

  async #execute(run: UiRun): Promise<void> {
    const req = run.request;
    try {
      const { loadJobSpec } = await import("../config/job_spec.ts");
      const spec = await loadJobSpec(req.spec);
      const inputs = req.each ? await this.#inputs(req.each) : undefined;
      if (inputs && spec.input.kind === "container") {
        throw new SealbatchError(
          "usage",
          "--each replaces the spec's input directory; this spec has a container",
        );
      }
      const c = await this.#connect(run);
      try {
        run.where = c.backend.label;
        const backend = cancellable(c.backend, run);
        const onEvent = (e: RunEvent) => {
          run.onEvent(e);
          // A resumed job skips its submission: its Slurm id is in the state either way.
          if (e.step === "submit" && (e.phase === "done" || e.phase === "skipped")) {
            this.#slurmId(run, e.job);
            this.#save();
          }
        };
        const common = {
          site: c.site,
          backend,
          vault: c.vault,
          dryRun: req.dryRun,
          signKey: c.signKey,
          passphrase: (label: string) => run.ask(label),
          nodePublicKey: c.nodePublicKey,
          nodeCommand: c.nodeCommand,
          ...(c.user ? { user: c.user } : {}),
          onEvent,
        };
        if (inputs) {
          const { runCohort } = await import("../run/cohort.ts");
          const resumable = await resumableJobs(this.stateRoot, spec.path);
          this.#refuseActive(inputs.map((i) => resumable.get(i)));
          for (const input of inputs) {
            const job = resumable.get(input);
            if (job) run.jobView(job).input = input;
          }
          run.rows = await runCohort({
            ...common,
            spec,
            inputs,
            stateRoot: this.stateRoot,
            concurrency: req.concurrency,
          });
          for (const row of run.rows) run.jobView(row.job).input = row.input;
          const bad = run.rows.filter((r) => r.error || (r.summary && !succeeded(r.summary)));
          if (bad.length > 0) {
            run.status = "failed";
            run.error = `${bad.length} of ${run.rows.length} jobs did not succeed`;
          }
        } else {
          const { runJob } = await import("../run/run.ts");
          const inputPath = "path" in spec.input ? spec.input.path : "";
          const job = (req.fresh
            ? undefined
            : (await resumableJobs(this.stateRoot, spec.path)).get(inputPath)) ??
            newJobId(spec.name);
          this.#refuseActive([job]);
          run.jobView(job).input = inputPath;
          run.changed();
          this.#save();
          const ungated = <T>(fn: () => Promise<T>) =>
            fn();
          run.summary = await runJob({
            ...common,
            spec,
            stateDir: jobDir(this.stateRoot, job),
            jobId: job,
            // Cancel takes effect before escrow too, not only at upload and submit.
            gates: {
              seal: ungated,
              submit: <T>(fn: () => Promise<T>) => {
                run.throwIfCancelled();
                return fn();
              },
            },
          });
          if (!succeeded(run.summary)) {
            run.status = "failed";
            run.error = `job ${run.summary.job} did not succeed (${
              run.summary.exitCode !== undefined
                ? `the command exited with status ${run.summary.exitCode}`
                : `Slurm reports ${run.summary.state}`
            })`;
          }
        }
        if (run.status === "running") run.status = run.cancelRequested ? "cancelled" : "finished";
        if (run.cancelRequested && run.status === "failed") run.status = "cancelled";
      } finally {
        await c.close();
      }
    } catch (err) {
      run.status = run.cancelRequested ? "cancelled" : "failed";
      run.error = reason(err);
      run.hint = err instanceof SealbatchError ? err.hint : undefined;
    } finally {
      run.prompt = undefined;
      run.endedAt = Date.now();
      run.changed();
    }
  }

  /** Two runs must never drive the same job at once (a second Start click, a second tab). */
  #refuseActive(jobs: (string | undefined)[]): void {
    const active = this.activeJobs();
    const busy = jobs.find((j) => j !== undefined && active.has(j));
    if (busy) {
      throw new SealbatchError("usage", `job ${q(busy)} is already running in this UI`, {
        hint: "follow it on its run page (Run lists the runs); start again when it has stopped",
      });
    }
  }

  async #slurmId(run: UiRun, job: string): Promise<void> {
    const entry = await showJob(this.stateRoot, job).catch(() => undefined);
    if (entry?.slurmJob) {
      run.jobView(job).slurm = entry.slurmJob;
      run.changed();
    }
  }

  async #inputs(pattern: string): Promise<string[]> {
    const { matchDirectories } = await import("../run/cohort.ts");
    return await matchDirectories(pattern, this.project);
  }
}

export function succeeded(s: RunSummary): boolean {
  return s.dryRun || (s.exitCode === 0 && s.state === "COMPLETED");
}
