/**
 * Start-up time of the CLI: `--version` and `--help` (the command tree alone)
 * and two commands that load only their own modules (`site init` with
 * --out, `job list` in an empty project), each from source (`deno run -P=sealbatch
 * main.ts`, the way the project runs) and from the bundle with a warm
 * DENO_DIR; `--version` also from the bundle with an empty DENO_DIR and from
 * the compiled binary when dist/sealbatch exists.
 *
 *   deno task bundle && deno run -P=test scripts/bench-startup.ts [runs] [--bundle FILE]
 *
 * --bundle measures another build of dist/sealbatch.js (run with the flags in
 * FILE.flags when that file exists), e.g. one built with `--dist` elsewhere.
 */
import { permissionFlags } from "../src/util/permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();

function parseArgs(args: string[]): { runs: number; bundle: string } {
  let runs = 7;
  let bundle = `${ROOT}/dist/sealbatch.js`;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--bundle" && args[i + 1]) bundle = args[++i]!;
    else if (/^\d+$/.test(a) && Number(a) > 0) runs = Number(a);
    else {
      console.error("usage: scripts/bench-startup.ts [runs] [--bundle FILE]");
      Deno.exit(2);
    }
  }
  return { runs, bundle };
}

const { runs: RUNS, bundle } = parseArgs(Deno.args);

async function timeOnce(cmd: string[], env: Record<string, string>, cwd: string): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

interface Run {
  cmd: string[];
  env?: Record<string, string>;
}

/** Median and range of RUNS runs; `make` gets the run number (fresh paths per run). */
async function measure(make: (i: number) => Promise<Run> | Run) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { cmd, env } = await make(i);
    times.push(await timeOnce(cmd, env ?? {}, scratch));
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]!, max: times.at(-1)! };
}

const binary = `${ROOT}/dist/sealbatch`;
const have = async (p: string) => await Deno.stat(p).then(() => true, () => false);
if (!(await have(bundle))) {
  console.error(`${bundle} is missing: run 'deno task bundle' first`);
  Deno.exit(1);
}
const bundleFlags = await have(`${bundle}.flags`)
  ? (await Deno.readTextFile(`${bundle}.flags`)).split("\n").filter((l) => l !== "")
  : permissionFlags();
const scratch = await Deno.makeTempDir({ prefix: "sealbatch-bench-" });
const fromSource = [
  DENO,
  "run",
  "-q",
  "--no-prompt",
  "--config",
  `${ROOT}/deno.json`,
  "-P=sealbatch",
  `${ROOT}/main.ts`,
];
const fromBundle = [DENO, "run", "-q", "--no-config", ...bundleFlags, bundle];
const warm = { DENO_DIR: `${scratch}/warm` };

const COMMANDS: [string, (i: number, tag: string) => string[]][] = [
  ["--version", () => ["--version"]],
  ["--help", () => ["--help"]],
  ["site init", (i, tag) => ["site", "init", "bench", "--out", `${scratch}/${tag}-${i}.yaml`]],
  ["job list (empty project)", () => ["job", "list", "--project", scratch]],
];

try {
  const rows: { label: string; how: string; r: Awaited<ReturnType<typeof measure>> }[] = [];
  for (const [label, args] of COMMANDS) {
    rows.push({
      label,
      how: "deno run -P=sealbatch main.ts",
      r: await measure((i) => ({ cmd: [...fromSource, ...args(i, "src")] })),
    });
    rows.push({
      label,
      how: "bundle, warm DENO_DIR",
      r: await measure((i) => ({ cmd: [...fromBundle, ...args(i, "bundle")], env: warm })),
    });
  }
  rows.push({
    label: "--version",
    how: "bundle, empty DENO_DIR",
    r: await measure(async () => ({
      cmd: [...fromBundle, "--version"],
      env: { DENO_DIR: await Deno.makeTempDir({ dir: scratch }) },
    })),
  });
  if (await have(binary)) {
    rows.push({
      label: "--version",
      how: "compiled binary",
      r: await measure(() => ({ cmd: [binary, "--version"] })),
    });
  }
  console.log(`sealbatch start-up, median (min-max) of ${RUNS} runs, ms`);
  for (const { label, how, r } of rows) {
    console.log(
      `${label.padEnd(26)} ${how.padEnd(31)} ${r.median.toFixed(0).padStart(5)} ` +
        `(${r.min.toFixed(0)}-${r.max.toFixed(0)})`,
    );
  }
  console.log(`bundle: ${bundle}, ${((await Deno.stat(bundle)).size / 1048576).toFixed(2)} MiB`);
} finally {
  await Deno.remove(scratch, { recursive: true });
}
