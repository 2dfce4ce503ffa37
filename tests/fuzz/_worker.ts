/// <reference lib="deno.worker" />
/**
 * Runs one target's cases (see _harness.ts): its regression inputs first,
 * then the seeded cases, classifying each outcome. Memory is sampled every
 * few milliseconds while a case awaits, and once when it ends; the growth of
 * heap + external memory (ArrayBuffers) over the value at the case's start
 * is what the bound applies to, so garbage left by earlier cases does not count.
 */
import { SealbatchError } from "../../src/util/errors.ts";
import {
  type Failure,
  type FuzzTarget,
  makeCase,
  type WorkerMessage,
  type WorkerRequest,
} from "./_harness.ts";
import { loadTarget, regressionInputs, setCaseRoot } from "./_targets.ts";

const live = () => {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
};

function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

const firstLine = (s: string) => s.split("\n")[0]!.slice(0, 300);

/** Why an outcome is not acceptable, or undefined when it is. */
function judge(err: unknown, target: FuzzTarget): Pick<Failure, "kind" | "detail"> | undefined {
  if (!(err instanceof SealbatchError)) {
    const e = err as { name?: string; message?: string; stack?: string } | null;
    const where = (e?.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim()).join(" | ");
    return {
      kind: "exception",
      detail: `${e?.name ?? typeof err}: ${firstLine(String(e?.message ?? err))} @ ${where}`,
    };
  }
  if (!target.exitCodes.includes(err.exitCode)) {
    return {
      kind: "exit-code",
      detail: `exit code ${err.exitCode} (want ${target.exitCodes.join("/")}): ${
        firstLine(err.message)
      }`,
    };
  }
  if (err.message.trim() === "" || /[\r\n]/.test(err.message) || /[\r\n]/.test(err.hint ?? "")) {
    return {
      kind: "message",
      detail: `not one line: ${JSON.stringify(err.message.slice(0, 300))}`,
    };
  }
  if (err.message.length > 2000) {
    return { kind: "message", detail: `message of ${err.message.length} characters` };
  }
  return undefined;
}

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  const state = new Float64Array(req.progress);
  const post = (m: WorkerMessage) => self.postMessage(m);
  let target: FuzzTarget;
  try {
    setCaseRoot(req.workDir);
    target = await loadTarget(req.target);
  } catch (err) {
    post({ type: "error", message: `setup failed: ${(err as Error).stack ?? err}` });
    return;
  }
  let peak = 0;
  let failures = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, live());
  }, 2);

  /** `slot`: the case number, or -2 - k for regression input k (named by the main side on a hang). */
  const runOne = async (id: number | string, input: Uint8Array, slot: number) => {
    const base = live();
    peak = base;
    state[1] = Date.now();
    state[0] = slot;
    const t0 = performance.now();
    let failure: Pick<Failure, "kind" | "detail"> | undefined;
    let code: number | null = null;
    try {
      await target.run(input);
    } catch (err) {
      failure = judge(err, target);
      if (!failure) code = (err as SealbatchError).exitCode;
    }
    const ms = performance.now() - t0;
    state[0] = -1;
    const grown = Math.max(peak, live()) - base;
    if (!failure && grown > req.memoryLimit) {
      failure = { kind: "memory", detail: `grew memory by ${Math.round(grown / 1048576)} MiB` };
    }
    if (!failure && ms > req.timeLimitMs) {
      failure = { kind: "slow", detail: `took ${Math.round(ms)} ms (limit ${req.timeLimitMs})` };
    }
    if (failure) failures++;
    post({
      type: "case",
      id,
      code: failure ? null : code,
      ms,
      grown,
      ...(failure
        ? {
          failure: {
            case: id,
            ...failure,
            inputBytes: input.length,
            ...(input.length <= 1 << 20 ? { input: b64(input) } : {}),
          },
        }
        : {}),
    });
  };

  try {
    if (req.regressions) {
      const inputs = await regressionInputs(req.target);
      for (const [k, [name, input]] of inputs.entries()) await runOne(name, input, -2 - k);
    }
    for (let i = req.from; i < req.to && failures < req.maxFailures; i++) {
      await runOne(i, makeCase(target, req.seed, i), i);
    }
  } finally {
    clearInterval(sampler);
    await target.close?.();
  }
  post({ type: "done" });
};
