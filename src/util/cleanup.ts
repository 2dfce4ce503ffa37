/**
 * Cleanup that also runs on Ctrl-C and SIGTERM: temporaries with plaintext or
 * keys register here, are removed in `finally` by their owner, and are removed
 * by the signal handler when the process is interrupted mid-step.
 */
type Cleanup = () => void | Promise<void>;

const pending = new Map<number, Cleanup>();
let nextId = 1;
let installed = false;
let interrupted: Deno.Signal | undefined;

/** Exit status after a signal, as a shell reports it: 128 + the signal's number. */
export const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

/** Cleanups started by either path, so neither exits while the other is still wiping. */
const running = new Map<number, Promise<unknown>>();

async function runAll(): Promise<void> {
  const tasks = [...pending.entries()].reverse();
  pending.clear();
  let chain: Promise<unknown> = Promise.resolve();
  for (const [id, task] of tasks) {
    // Best effort: one failing cleanup must not stop the others.
    chain = chain.then(task).catch(() => {});
    running.set(id, chain);
  }
  await Promise.allSettled([chain, ...running.values()]);
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const sig of Object.keys(SIGNAL_EXIT_CODES) as (keyof typeof SIGNAL_EXIT_CODES)[]) {
    try {
      Deno.addSignalListener(sig, () => {
        interrupted = sig;
        runAll().finally(() => {
          console.error(`sealbatch: error: interrupted by ${sig}; temporary files removed`);
          Deno.exit(SIGNAL_EXIT_CODES[sig]);
        });
      });
    } catch {
      // Signals unsupported here (or not permitted): finally-blocks still clean up.
    }
  }
}

/** Register a cleanup; returns a function that runs it now and unregisters it. */
export function onCleanup(task: Cleanup): () => Promise<void> {
  install();
  const id = nextId++;
  pending.set(id, task);
  return async () => {
    if (!pending.delete(id)) {
      await running.get(id);
      return;
    }
    const run = Promise.resolve().then(task);
    running.set(id, run.catch(() => {}));
    try {
      await run;
    } finally {
      running.delete(id);
    }
  };
}

/** The signal that interrupted the process, if any (long loops check it). */
export function interruptedBy(): Deno.Signal | undefined {
  return interrupted;
}
