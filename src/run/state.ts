/**
 * The resumable record of one `sealbatch run`: which steps finished and
 * what they produced. A second run after an interruption skips finished
 * steps (no second upload of a verified file, no second escrow).
 * The file holds references and hashes only, never keys or tokens.
 */
import { inputError, q } from "../util/errors.ts";
import { writeFileAtomic } from "../util/files.ts";

export interface StepRecord {
  name: string;
  ms: number;
  finishedAt: string;
  value: unknown;
}

interface StateFile {
  v: 1;
  job: string;
  steps: StepRecord[];
}

export interface StepTiming {
  name: string;
  ms: number;
  /** True when the step had finished in an earlier, interrupted run. */
  resumed: boolean;
}

export class RunState {
  readonly path: string;
  readonly job: string;
  #steps: Map<string, StepRecord>;
  #timings: StepTiming[] = [];

  private constructor(path: string, job: string, steps: StepRecord[]) {
    this.path = path;
    this.job = job;
    this.#steps = new Map(steps.map((s) => [s.name, s]));
  }

  /** Open (or start) the state of `job` in `dir` (created 0700). */
  static async open(dir: string, job: string): Promise<RunState> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const path = `${dir}/state.json`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return new RunState(path, job, []);
      throw err;
    }
    let parsed: StateFile;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw inputError(`cannot resume from ${q(path)}: not valid JSON`, {
        hint: "remove the file to start the job over",
      });
    }
    if (parsed.v !== 1 || parsed.job !== job || !Array.isArray(parsed.steps)) {
      throw inputError(`cannot resume from ${q(path)}: it belongs to another job or version`, {
        hint: "remove the file to start the job over",
      });
    }
    return new RunState(path, job, parsed.steps);
  }

  done(name: string): boolean {
    return this.#steps.has(name);
  }

  get<T>(name: string): T | undefined {
    return this.#steps.get(name)?.value as T | undefined;
  }

  /** Run `fn` unless the step finished before; record its result durably. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#steps.get(name);
    if (previous) {
      this.#timings.push({ name, ms: 0, resumed: true });
      return previous.value as T;
    }
    const start = performance.now();
    const value = await fn();
    const ms = performance.now() - start;
    this.#steps.set(name, { name, ms, finishedAt: new Date().toISOString(), value });
    this.#timings.push({ name, ms, resumed: false });
    await this.save();
    return value;
  }

  /** Forget a step so it runs again (e.g. an upload whose remote copy vanished). */
  async forget(name: string): Promise<void> {
    if (this.#steps.delete(name)) await this.save();
  }

  timings(): StepTiming[] {
    return [...this.#timings];
  }

  async save(): Promise<void> {
    const data: StateFile = { v: 1, job: this.job, steps: [...this.#steps.values()] };
    await writeFileAtomic(this.path, JSON.stringify(data, null, 2) + "\n", {
      mode: 0o600,
      overwrite: true,
    });
  }
}
