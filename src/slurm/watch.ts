/**
 * Waiting for Slurm jobs. One watcher polls all the jobs waited on through it
 * with one squeue query per round, so a cohort of a hundred jobs costs the
 * site one query every few seconds, not a hundred. Backoff: the first look at
 * once, then doubling intervals, back to the shortest after any change (a new
 * job to watch, or a job in a new state). A job added while the watcher pauses
 * is looked at when the pause ends.
 */
import { SealbatchError } from "../util/errors.ts";
import type { Shell } from "./shell.ts";
import {
  isTerminal,
  jobId,
  type JobResult,
  type JobState,
  jobStates,
  outcomeOf,
  type SlurmSettings,
} from "./slurm.ts";

export interface PollOptions {
  /** First poll interval; doubles up to maxIntervalMs (default 1 s .. 30 s). */
  intervalMs?: number;
  maxIntervalMs?: number;
}

export interface WaitOptions extends PollOptions {
  onState?: (s: JobState) => void;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** How long a job may stay unknown to squeue and sacct before the wait gives up. */
const UNKNOWN_LIMIT_MS = 10_000;

interface Waiter {
  id: string;
  onState: ((s: JobState) => void) | undefined;
  deadline: number;
  signal: AbortSignal | undefined;
  last: string;
  unknownSince: number;
  resolve: (r: JobResult) => void;
  reject: (err: unknown) => void;
}

export class JobWatcher {
  #shell: Shell;
  #settings: SlurmSettings;
  #min: number;
  #max: number;
  #waiters = new Set<Waiter>();
  #interval: number;
  #running = false;

  constructor(shell: Shell, settings: SlurmSettings, opts: PollOptions = {}) {
    this.#shell = shell;
    this.#settings = settings;
    this.#min = opts.intervalMs ?? 1000;
    this.#max = opts.maxIntervalMs ?? 30_000;
    this.#interval = this.#min;
  }

  /** Until the job reaches any terminal state. */
  wait(
    id: string,
    opts: Pick<WaitOptions, "onState" | "timeoutMs" | "signal"> = {},
  ): Promise<JobResult> {
    jobId(id);
    return new Promise<JobResult>((resolve, reject) => {
      this.#waiters.add({
        id,
        onState: opts.onState,
        deadline: opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity,
        signal: opts.signal,
        last: "",
        unknownSince: 0,
        resolve,
        reject,
      });
      this.#interval = this.#min;
      if (this.#running) return;
      this.#running = true;
      // From the next microtask: waits started in the same turn share the first query.
      queueMicrotask(() => this.#loop());
    });
  }

  /** Runs while anyone waits; never rejects (every failure settles the waiters it concerns). */
  async #loop(): Promise<void> {
    try {
      await this.#rounds();
    } catch (err) {
      for (const w of this.#waiters) this.#end(w, err);
    } finally {
      // In the same turn as the last check for waiters: a wait() after this starts a new loop.
      this.#running = false;
    }
  }

  async #rounds(): Promise<void> {
    while (this.#waiters.size > 0) {
      const round = [...this.#waiters];
      let answers;
      try {
        answers = await jobStates(this.#shell, this.#settings, [
          ...new Set(round.map((w) => w.id)),
        ]);
      } catch (err) {
        for (const w of round) this.#end(w, err);
        continue;
      }
      let changed = false;
      for (const w of round) {
        const answer = answers.get(w.id);
        if (answer instanceof SealbatchError) {
          this.#end(w, answer);
        } else if (answer === undefined) {
          // Purged from slurmctld and no accounting: never seen again, so stop instead of looping.
          w.unknownSince ||= Date.now();
          if (Date.now() - w.unknownSince > UNKNOWN_LIMIT_MS) {
            this.#end(
              w,
              new SealbatchError("job", `job ${w.id} is unknown to squeue and sacct`, {
                hint:
                  "the job id may be wrong, or it ended long ago and accounting is disabled on this cluster",
              }),
            );
          }
        } else {
          w.unknownSince = 0;
          if (answer.state !== w.last) {
            w.last = answer.state;
            changed = true;
            w.onState?.(answer);
          }
          if (isTerminal(answer.state)) {
            this.#end(w, {
              id: w.id,
              state: answer.state,
              outcome: outcomeOf(answer.state),
              ...(answer.exitCode ? { exitCode: answer.exitCode } : {}),
            });
          }
        }
      }
      if (changed) this.#interval = this.#min; // a change: look again soon
      const pause = this.#interval;
      for (const w of this.#waiters) {
        if (Date.now() + pause > w.deadline) {
          // Not an end state of the job: it keeps running, like after Ctrl-C.
          this.#end(
            w,
            new SealbatchError(
              "timeout",
              `stopped waiting for job ${w.id}: it did not finish in time (last state ${
                w.last || "unknown"
              }); the job keeps running`,
            ),
          );
        }
      }
      if (this.#waiters.size === 0) return;
      await this.#pause(pause);
      for (const w of this.#waiters) {
        if (w.signal?.aborted) {
          this.#end(w, new SealbatchError("interrupted", `stopped waiting for job ${w.id}`));
        }
      }
      this.#interval = Math.min(this.#interval * 2, this.#max);
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signals = [...this.#waiters].flatMap((w) => (w.signal ? [w.signal] : []));
      function done() {
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener("abort", done);
        resolve();
      }
      for (const s of signals) s.addEventListener("abort", done, { once: true });
    });
  }

  /** Settle a waiter: a JobResult resolves, anything else (an error) rejects. */
  #end(w: Waiter, outcome: unknown): void {
    if (!this.#waiters.delete(w)) return;
    if (outcome instanceof Error) w.reject(outcome);
    else w.resolve(outcome as JobResult);
  }
}

/** Poll with backoff until the job reaches any terminal state. */
export function waitForJob(
  shell: Shell,
  settings: SlurmSettings,
  id: string,
  opts: WaitOptions = {},
): Promise<JobResult> {
  return new JobWatcher(shell, settings, opts).wait(id, opts);
}
