/**
 * Child processes of one command that must not outlive it: on Ctrl-C the
 * cleanup stops them first (they are registered after the private
 * directories, and cleanups run newest first), then the plaintext is wiped.
 */
import { interruptedBy, onCleanup } from "../util/cleanup.ts";
import { exec } from "../util/exec.ts";
import type { ExecOptions, ExecResult } from "../util/exec.ts";

/** Never settles: the step stops here while the signal handler cleans up and exits. */
function halt(): Promise<never> {
  return new Promise(() => {});
}

/** Call before an irreversible step (writing a key, placing output). */
export async function checkpoint(): Promise<void> {
  if (interruptedBy()) await halt();
}

export class Jobs {
  #abort = new AbortController();
  #running = new Set<Promise<unknown>>();
  #release: () => Promise<void>;
  #background: boolean;

  /** `background`: every child runs at a lower CPU priority (see ExecOptions). */
  constructor(opts: { background?: boolean } = {}) {
    this.#background = opts.background ?? false;
    this.#release = onCleanup(async () => {
      this.#abort.abort();
      await Promise.allSettled([...this.#running]);
    });
  }

  run(program: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const child = exec(program, args, {
      ...opts,
      signal: this.#abort.signal,
      ...(this.#background ? { background: true } : {}),
    });
    this.#running.add(child);
    child.finally(() => this.#running.delete(child)).catch(() => {});
    return child.catch((err) => {
      // Stopped by Ctrl-C: the signal handler is cleaning up and exits with 130.
      if (interruptedBy()) return halt();
      throw err;
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#release();
  }
}
