/**
 * The fuzz harness the tests and scripts/fuzz.ts share: a seeded PRNG, byte
 * mutators, and a runner that executes one target's cases in a Worker. Each
 * case is derived from (seed, target, case number) alone, so any case can be
 * replayed on its own. The outcome of every case must be success or the
 * project's user error (SealbatchError: one line, an allowed exit code);
 * anything else, a case over the time limit (a Worker stuck in a loop is
 * terminated by a watchdog) or one that grows the heap by more than the
 * memory bound is a failure. The bound is measured (heap + external memory):
 * Deno's Workers take no heap limit, and V8 heap limits would not count the
 * ArrayBuffers a hostile length field makes a parser allocate.
 */

import { CI_CASES, regressionInputs } from "./_targets.ts";

/** Fixed in CI so runs are reproducible; scripts/fuzz.ts takes another. */
export const CI_SEED = 20261204;
export const CASE_TIME_LIMIT_MS = 2000;
export const CASE_MEMORY_LIMIT = 256 * 1024 * 1024;

/** mulberry32: small, fast, good enough to spread mutations; never Math.random. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 <= n < max */
  int(max: number): number {
    return max <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * max);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** FNV-1a over the case's coordinates: each case has its own stream. */
export function caseSeed(seed: number, target: string, index: number): number {
  let h = 0x811c9dc5;
  for (const c of `${seed}/${target}/${index}`) {
    h ^= c.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const enc = new TextEncoder();
export const utf8 = (s: string) => enc.encode(s);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes that break parsers: NUL, line ends, invalid and tricky UTF-8. */
const NASTY: Uint8Array[] = [
  new Uint8Array([0]),
  new Uint8Array([0, 0, 0, 0]),
  utf8("\r\n"),
  utf8("\r"),
  utf8("\n\n"),
  utf8("\t"),
  new Uint8Array([0xc3, 0x28]), // invalid continuation
  new Uint8Array([0xc0, 0xaf]), // overlong "/"
  new Uint8Array([0xed, 0xa0, 0x80]), // lone surrogate
  new Uint8Array([0xff, 0xfe]),
  new Uint8Array([0xef, 0xbb, 0xbf]), // BOM
  utf8("\u202e"),
  utf8("\u2028"),
  utf8("é日本\u{1F600}"),
  utf8("\\u0000"),
  utf8("%00"),
  utf8("%ZZ"),
  utf8("'"),
  utf8('"'),
  utf8("\\"),
  utf8("$(id)"),
  utf8("../"),
];

/** Numbers to put where a length, count or offset is. */
const HUGE_TEXT = [
  "-1",
  "0",
  "-0",
  "1e308",
  "1e999",
  "NaN",
  "0x10",
  "1.5",
  "9007199254740993",
  "18446744073709551616",
  "99999999999999999999999999999",
  "4294967295",
  "2147483648",
];

const INT_VALUES: bigint[] = [
  0n,
  1n,
  0x7fn,
  0x80n,
  0xffn,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

export type Mutator = (rng: Rng, input: Uint8Array, ctx: MutationContext) => Uint8Array;

export interface MutationContext {
  /** Other valid inputs, for splicing. */
  seeds: readonly Uint8Array[];
  /** Format words (YAML anchors, armor lines, JSON values) to insert. */
  tokens: readonly Uint8Array[];
  maxBytes: number;
}

const at = (rng: Rng, b: Uint8Array) => rng.int(b.length + 1);

const bitFlip: Mutator = (rng, b) => {
  if (b.length === 0) return b;
  const out = b.slice();
  for (let n = 1 + rng.int(8); n > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
};

const byteSet: Mutator = (rng, b) => {
  if (b.length === 0) return b;
  const out = b.slice();
  const values = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x22, 0x27, 0x5c, 0x3a, 0x2d, 0x7b, 0x5b];
  for (let n = 1 + rng.int(4); n > 0; n--) out[rng.int(out.length)] = rng.pick(values);
  return out;
};

const truncate: Mutator = (rng, b) =>
  rng.chance(0.5) ? b.subarray(0, at(rng, b)) : b.subarray(0, Math.max(0, b.length - rng.int(16)));

const deleteRange: Mutator = (rng, b) => {
  const start = at(rng, b);
  const end = Math.min(b.length, start + 1 + rng.int(rng.chance(0.8) ? 16 : 4096));
  return concat(b.subarray(0, start), b.subarray(end));
};

const insert: Mutator = (rng, b, ctx) => {
  const pool = ctx.tokens.length > 0 && rng.chance(0.6) ? ctx.tokens : NASTY;
  const piece = rng.chance(0.1) ? rng.bytes(1 + rng.int(32)) : rng.pick(pool);
  const pos = at(rng, b);
  return concat(b.subarray(0, pos), piece, b.subarray(pos));
};

const splice: Mutator = (rng, b, ctx) => {
  const other = rng.pick(ctx.seeds);
  return concat(b.subarray(0, at(rng, b)), other.subarray(at(rng, other)));
};

/** A chunk repeated many times: giant lines, deep nesting, long runs. */
const repeat: Mutator = (rng, b, ctx) => {
  const start = at(rng, b);
  const chunk = b.length > 0 && rng.chance(0.7)
    ? b.subarray(start, Math.min(b.length, start + 1 + rng.int(16)))
    : rng.pick([...ctx.tokens, ...NASTY]);
  if (chunk.length === 0) return b;
  const room = Math.max(0, ctx.maxBytes - b.length);
  const times = Math.min(Math.floor(room / chunk.length), rng.chance(0.3) ? 1 << 20 : 256);
  const run = new Uint8Array(chunk.length * times);
  for (let i = 0; i < times; i++) run.set(chunk, i * chunk.length);
  return concat(b.subarray(0, start), run, b.subarray(start));
};

/** 1, 2, 4 or 8 bytes at a (often aligned) offset set to a huge, negative or edge value. */
const lengthField: Mutator = (rng, b) => {
  const width = rng.pick([1, 2, 4, 8]);
  if (b.length < width) return b;
  let pos = rng.int(b.length - width + 1);
  if (rng.chance(0.6)) pos -= pos % width;
  let v = rng.chance(0.15) ? BigInt(b.length + rng.int(3) - 1) : rng.pick(INT_VALUES);
  if (rng.chance(0.2)) v = -v;
  const out = b.slice();
  const mask = (1n << BigInt(width * 8)) - 1n;
  const u = ((v % (mask + 1n)) + (mask + 1n)) & mask;
  const le = rng.chance(0.5);
  for (let i = 0; i < width; i++) {
    out[le ? pos + i : pos + width - 1 - i] = Number((u >> BigInt(8 * i)) & 0xffn);
  }
  return out;
};

/** A run of ASCII digits replaced by a huge, negative or odd number. */
const numberText: Mutator = (rng, b) => {
  const runs: [number, number][] = [];
  for (let i = 0; i < b.length && runs.length < 64; i++) {
    if (b[i]! >= 0x30 && b[i]! <= 0x39) {
      const s = i;
      while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
      runs.push([s, i]);
    }
  }
  if (runs.length === 0) return b;
  const [s, e] = rng.pick(runs);
  return concat(b.subarray(0, s), utf8(rng.pick(HUGE_TEXT)), b.subarray(e));
};

/** Two ranges swapped. */
const swap: Mutator = (rng, b) => {
  if (b.length < 4) return b;
  const cut = [at(rng, b), at(rng, b), at(rng, b)].sort((x, y) => x - y) as [
    number,
    number,
    number,
  ];
  return concat(
    b.subarray(0, cut[0]),
    b.subarray(cut[1], cut[2]),
    b.subarray(cut[0], cut[1]),
    b.subarray(cut[2]),
  );
};

export const MUTATORS: readonly Mutator[] = [
  bitFlip,
  byteSet,
  truncate,
  deleteRange,
  insert,
  insert,
  splice,
  repeat,
  lengthField,
  lengthField,
  numberText,
  swap,
];

/** Apply 1-4 (sometimes up to 12) mutations from the generic and the target's own. */
export function mutate(
  rng: Rng,
  input: Uint8Array,
  ctx: MutationContext,
  extra: readonly Mutator[] = [],
): Uint8Array {
  let b = input;
  const n = rng.chance(0.1) ? 1 + rng.int(12) : 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    const m = extra.length > 0 && rng.chance(0.4) ? rng.pick(extra) : rng.pick(MUTATORS);
    b = m(rng, b, ctx);
    if (b.length > ctx.maxBytes) b = b.subarray(0, ctx.maxBytes);
  }
  return b;
}

/** What one parser under test looks like to the harness. */
export interface FuzzTarget {
  name: string;
  /** Valid inputs the mutations start from. */
  seeds: Uint8Array[];
  tokens?: string[];
  /** Format-aware mutators (inner bytes of armor, LUKS2 JSON with a fresh checksum, ...). */
  mutators?: Mutator[];
  /** Hostile inputs built from scratch (alias bombs, deep nesting, huge declared lengths). */
  generate?: (rng: Rng) => Uint8Array;
  /** Largest input (a little above the parser's own limit, so that check runs too). */
  maxBytes: number;
  /** Exit codes of SealbatchError this parser may end with. */
  exitCodes: number[];
  run(input: Uint8Array): Promise<unknown>;
  close?(): Promise<void>;
}

/** The input of case `index` of `target`: a mutated seed, a generated one or random bytes. */
export function makeCase(target: FuzzTarget, seed: number, index: number): Uint8Array {
  const rng = new Rng(caseSeed(seed, target.name, index));
  const ctx: MutationContext = {
    seeds: target.seeds,
    tokens: (target.tokens ?? []).map(utf8),
    maxBytes: target.maxBytes,
  };
  const roll = rng.int(100);
  if (target.generate && roll < 15) return target.generate(rng);
  if (roll < 18) return rng.bytes(rng.int(rng.chance(0.9) ? 512 : target.maxBytes));
  return mutate(rng, rng.pick(target.seeds), ctx, target.mutators);
}

export interface Failure {
  /** Case number, or the regression file's name. */
  case: number | string;
  kind: "exception" | "exit-code" | "message" | "slow" | "memory" | "hang" | "crash";
  detail: string;
  /** The input, base64, when not larger than 1 MiB. */
  input?: string;
  inputBytes: number;
}

export interface Report {
  target: string;
  seed: number;
  cases: number;
  regressions: number;
  ok: number;
  /** User errors by exit code. */
  userErrors: Record<string, number>;
  failures: Failure[];
  wallMs: number;
  slowestCaseMs: number;
  slowestCase: number | string;
  /** Largest growth of heap + external memory seen during one case. */
  peakCaseBytes: number;
}

export interface RunOptions {
  target: string;
  seed: number;
  cases: number;
  /** First case number (to continue after a hang, or to replay one case). */
  from?: number;
  timeLimitMs?: number;
  memoryLimit?: number;
  /** Stop after this many failures (the report keeps them all up to here). */
  maxFailures?: number;
}

export interface WorkerRequest extends Required<Omit<RunOptions, "cases">> {
  to: number;
  /** The case files' directory, removed here after the Worker ends. */
  workDir: string;
  regressions: boolean;
  /** [case index, start time (Date.now())] of the case running now; -1 idle, -2 - k regression k. */
  progress: SharedArrayBuffer;
}

/** What the Worker posts: one message per case, then "done" (or "error" when setup fails). */
export type WorkerMessage =
  | {
    type: "case";
    id: number | string;
    /** Exit code of the user error; null for success or a failure. */
    code: number | null;
    failure?: Failure;
    ms: number;
    grown: number;
  }
  | { type: "done" }
  | { type: "error"; message: string };

/**
 * Run cases [from, from + cases) of one target in Workers. A case still
 * running after the time limit (plus one poll) has its Worker terminated:
 * that case is a "hang" failure and the run goes on in a fresh Worker.
 * Outcomes arrive case by case, so none is lost with a terminated Worker.
 */
export async function runFuzz(opts: RunOptions): Promise<Report> {
  const timeLimitMs = opts.timeLimitMs ?? CASE_TIME_LIMIT_MS;
  const maxFailures = opts.maxFailures ?? 20;
  const from = opts.from ?? 0;
  const to = from + opts.cases;
  const total: Report = {
    target: opts.target,
    seed: opts.seed,
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
  const record = (m: Extract<WorkerMessage, { type: "case" }>) => {
    if (typeof m.id === "number") {
      total.cases++;
      next = m.id + 1;
    } else total.regressions++;
    if (m.failure) total.failures.push(m.failure);
    else if (m.code === null) total.ok++;
    else total.userErrors[String(m.code)] = (total.userErrors[String(m.code)] ?? 0) + 1;
    if (m.ms > total.slowestCaseMs) {
      total.slowestCaseMs = m.ms;
      total.slowestCase = m.id;
    }
    total.peakCaseBytes = Math.max(total.peakCaseBytes, m.grown);
  };
  const started = performance.now();
  let next = from;
  let first = true;
  // Case files of every Worker of this run; removed even after a Worker was terminated.
  const workDir = await Deno.makeTempDir({ prefix: "sealbatch-fuzz-" });
  const runWorkers = async () => {
    while ((next < to || first) && total.failures.length < maxFailures) {
      const progress = new SharedArrayBuffer(16);
      const state = new Float64Array(progress);
      state[0] = -1;
      const worker = new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" });
      const request: WorkerRequest = {
        target: opts.target,
        seed: opts.seed,
        from: next,
        to,
        timeLimitMs,
        memoryLimit: opts.memoryLimit ?? CASE_MEMORY_LIMIT,
        maxFailures: maxFailures - total.failures.length,
        // Regressions run once, in the first Worker.
        regressions: first,
        progress,
        workDir,
      };
      first = false;
      worker.postMessage(request);
      const end = await new Promise<{ type: "done" } | { type: "hang"; index: number }>(
        (resolve, reject) => {
          const stop = () => {
            clearInterval(watchdog);
            worker.terminate();
          };
          const watchdog = setInterval(() => {
            const index = state[0]!;
            if (index !== -1 && Date.now() - state[1]! > timeLimitMs + 250) {
              stop();
              resolve({ type: "hang", index });
            }
          }, 100);
          worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
            const m = e.data;
            if (m.type === "case") return record(m);
            stop();
            if (m.type === "done") resolve(m);
            else reject(new Error(`fuzz worker for ${opts.target}: ${m.message}`));
          };
          worker.onerror = (e) => {
            e.preventDefault();
            stop();
            reject(new Error(`fuzz worker for ${opts.target}: ${e.message}`));
          };
        },
      );
      if (end.type === "done") break;
      total.failures.push({
        case: end.index < 0
          ? (await regressionInputs(opts.target))[-2 - end.index]?.[0] ?? "regression"
          : end.index,
        kind: "hang",
        detail: `still running after ${timeLimitMs} ms; the Worker was terminated`,
        inputBytes: -1,
      });
      if (end.index >= 0) {
        total.cases++;
        next = end.index + 1;
      }
    }
  };
  try {
    await runWorkers();
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  total.wallMs = performance.now() - started;
  return total;
}

/** One line per failure, with what replays it. */
export function describeFailures(r: Report): string {
  return r.failures.map((f) =>
    `${r.target} case ${f.case}: ${f.kind}: ${f.detail} (${f.inputBytes} bytes)`
  ).join("\n");
}

/**
 * Run each target's CI cases (see CI_CASES) and its regression inputs with
 * the CI seed, and fail with every failure and the replay command.
 */
export async function fuzzTargets(targets: string[]): Promise<Report[]> {
  const reports: Report[] = [];
  for (const target of targets) {
    reports.push(await runFuzz({ target, seed: CI_SEED, cases: CI_CASES[target] ?? 0 }));
  }
  const failed = reports.filter((r) => r.failures.length > 0);
  if (failed.length > 0) {
    throw new Error(
      `${failed.map(describeFailures).join("\n")}\nseed ${CI_SEED}; replay one case with ` +
        `deno run -P=test scripts/fuzz.ts --seed ${CI_SEED} --parser NAME --from CASE --cases 1 --save DIR`,
    );
  }
  for (const r of reports) {
    if (r.cases + r.regressions === 0) throw new Error(`${r.target}: no case ran`);
  }
  return reports;
}
