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
  type Report,
  type WorkerRequest,
} from "./_harness.ts";
import { loadTarget, regressionInputs } from "./_targets.ts";

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
  let target: FuzzTarget;
  try {
    target = await loadTarget(req.target);
  } catch (err) {
    self.postMessage({ type: "error", message: `setup failed: ${(err as Error).stack ?? err}` });
    return;
  }
  const report: Report = {
    target: req.target,
    seed: req.seed,
    cases: 0,
    regressions: 0,
    ok: 0,
    userErrors: {},
    failures: [],
    wallMs: 0,
    slowestCaseMs: 0,
    slowestCase: -1,
    peakCaseBytes: 0,
  };
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, live());
  }, 2);

  const runOne = async (id: number | string, input: Uint8Array) => {
    const base = live();
    peak = base;
    state[1] = Date.now();
    state[0] = typeof id === "number" ? id : -2;
    const t0 = performance.now();
    let failure: Pick<Failure, "kind" | "detail"> | undefined;
    try {
      await target.run(input);
      report.ok++;
    } catch (err) {
      failure = judge(err, target);
      if (!failure) {
        const code = String((err as SealbatchError).exitCode);
        report.userErrors[code] = (report.userErrors[code] ?? 0) + 1;
      }
    }
    const ms = performance.now() - t0;
    state[0] = -1;
    const grown = Math.max(peak, live()) - base;
    if (ms > report.slowestCaseMs) {
      report.slowestCaseMs = ms;
      report.slowestCase = id;
    }
    report.peakCaseBytes = Math.max(report.peakCaseBytes, grown);
    if (!failure && ms > req.timeLimitMs) {
      failure = { kind: "slow", detail: `took ${Math.round(ms)} ms (limit ${req.timeLimitMs})` };
    }
    if (!failure && grown > req.memoryLimit) {
      failure = { kind: "memory", detail: `grew memory by ${Math.round(grown / 1048576)} MiB` };
    }
    if (failure) {
      report.failures.push({
        case: id,
        ...failure,
        inputBytes: input.length,
        ...(input.length <= 1 << 20 ? { input: b64(input) } : {}),
      });
    }
  };

  try {
    if (req.regressions) {
      for (const [name, input] of await regressionInputs(req.target)) {
        report.regressions++;
        await runOne(name, input);
      }
    }
    for (let i = req.from; i < req.to && report.failures.length < req.maxFailures; i++) {
      report.cases++;
      await runOne(i, makeCase(target, req.seed, i));
    }
  } finally {
    clearInterval(sampler);
    await target.close?.();
  }
  self.postMessage({ type: "done", report });
};
