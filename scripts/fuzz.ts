/**
 * The fuzz tests' harness (tests/fuzz/) run for longer, with any seed:
 *
 *   deno run -P=test scripts/fuzz.ts [--seed N] [--cases N] [--parser NAME]... [--from N]
 *                                    [--save DIR] [--list]
 *
 * --cases is per parser (default 10000); --parser may be given more than once
 * (default: all); --from replays from one case on (with --cases 1: exactly
 * that case); --save writes each failing input to DIR/PARSER-CASE.bin, ready
 * to become a regression file in tests/fuzz/regressions/PARSER/. Prints, per
 * parser, the cases run, how they ended and the failures, then the seed.
 * Exit status 1 when any case failed.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { CI_SEED, type Failure, makeCase, type Report, runFuzz } from "../tests/fuzz/_harness.ts";
import { loadTarget, TARGET_NAMES } from "../tests/fuzz/_targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    cases: { type: "string" },
    parser: { type: "string", multiple: true },
    from: { type: "string" },
    save: { type: "string" },
    list: { type: "boolean" },
  },
});

if (values.list) {
  console.log(TARGET_NAMES.join("\n"));
  Deno.exit(0);
}

const int = (text: string | undefined, fallback: number, what: string): number => {
  if (text === undefined) return fallback;
  if (!/^\d{1,10}$/.test(text)) {
    console.error(`fuzz: --${what} wants a whole number, got ${JSON.stringify(text)}`);
    Deno.exit(2);
  }
  return Number(text);
};
const seed = int(values.seed, CI_SEED, "seed");
const cases = int(values.cases, 10_000, "cases");
const from = int(values.from, 0, "from");
const parsers = values.parser ?? [...TARGET_NAMES];
for (const p of parsers) {
  if (!TARGET_NAMES.includes(p)) {
    console.error(`fuzz: unknown parser ${JSON.stringify(p)}; --list shows them`);
    Deno.exit(2);
  }
}

/** A failure's input: sent by the Worker, or (for a hang) made again from the seed here. */
async function inputOf(target: string, f: Failure): Promise<Uint8Array> {
  if (f.input !== undefined) return Uint8Array.from(atob(f.input), (c) => c.charCodeAt(0));
  const t = await loadTarget(target);
  try {
    return makeCase(t, seed, f.case as number);
  } finally {
    await t.close?.();
  }
}

const reports: Report[] = [];
const started = performance.now();
const cpu0 = process.cpuUsage();
for (const target of parsers) {
  const r = await runFuzz({ target, seed, cases, from, maxFailures: 50 });
  reports.push(r);
  const codes = Object.entries(r.userErrors).map(([c, n]) => `exit ${c}: ${n}`).join(", ");
  console.log(
    `${target.padEnd(16)} ${String(r.cases).padStart(7)} cases  ${
      String(r.failures.length).padStart(3)
    } failures  ok ${r.ok}${codes ? `, ${codes}` : ""}  (${(r.wallMs / 1000).toFixed(1)} s, ` +
      `slowest case ${r.slowestCase}: ${Math.round(r.slowestCaseMs)} ms, largest growth ${
        (r.peakCaseBytes / 1048576).toFixed(1)
      } MiB${r.regressions ? `, ${r.regressions} regression inputs` : ""})`,
  );
  for (const f of r.failures) {
    console.log(`  case ${f.case}: ${f.kind}: ${f.detail} (${f.inputBytes} bytes)`);
    if (values.save && (f.input !== undefined || typeof f.case === "number")) {
      await Deno.mkdir(values.save, { recursive: true });
      const file = `${values.save}/${target}-${f.case}.bin`;
      await Deno.writeFile(file, await inputOf(target, f));
      console.log(`    saved ${file}`);
    }
  }
}
const total = reports.reduce((n, r) => n + r.cases, 0);
const failed = reports.reduce((n, r) => n + r.failures.length, 0);
const cpu = process.cpuUsage(cpu0);
console.log(
  `${total} cases, ${failed} failures, seed ${seed} (${
    ((performance.now() - started) / 1000).toFixed(1)
  } s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU)`,
);
Deno.exit(failed > 0 ? 1 : 0);
