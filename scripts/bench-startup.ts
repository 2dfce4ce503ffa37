/**
 * Start-up time of `sealbatch --version`: the bundle (with an empty and with a
 * warm DENO_DIR) and the compiled binary (when dist/sealbatch exists) against
 * `deno run -P=sealbatch main.ts`, the way the project runs from source.
 *
 *   deno task bundle && deno run -P=test scripts/bench-startup.ts [runs]
 */
import { permissionFlags } from "../src/util/permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const RUNS = Number(Deno.args[0] ?? 7);

async function timeOnce(cmd: string[], env: Record<string, string>): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

async function median(label: string, make: () => Promise<[string[], Record<string, string>]>) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const [cmd, env] = await make();
    times.push(await timeOnce(cmd, env));
  }
  times.sort((a, b) => a - b);
  return { label, ms: times[Math.floor(times.length / 2)]! };
}

const bundle = `${ROOT}/dist/sealbatch.js`;
const binary = `${ROOT}/dist/sealbatch`;
const have = async (p: string) => await Deno.stat(p).then(() => true, () => false);
if (!(await have(bundle))) {
  console.error("dist/sealbatch.js is missing: run 'deno task bundle' first");
  Deno.exit(1);
}
const scratch = await Deno.makeTempDir({ prefix: "sealbatch-bench-" });
const runBundle = [DENO, "run", "-q", "--no-config", ...permissionFlags(), bundle, "--version"];
try {
  const results = [
    await median(
      "deno run -P=sealbatch main.ts",
      () =>
        Promise.resolve([[
          DENO,
          "run",
          "-q",
          "--no-prompt",
          "-P=sealbatch",
          `${ROOT}/main.ts`,
          "--version",
        ], {}]),
    ),
    await median("bundle, empty DENO_DIR", async () => {
      const dir = await Deno.makeTempDir({ dir: scratch });
      return [runBundle, { DENO_DIR: dir }];
    }),
    await median(
      "bundle, warm DENO_DIR",
      () => Promise.resolve([runBundle, { DENO_DIR: `${scratch}/warm` }]),
    ),
  ];
  if (await have(binary)) {
    results.push(
      await median("compiled binary", () => Promise.resolve([[binary, "--version"], {}])),
    );
  }
  const base = results[0]!.ms;
  console.log(`sealbatch --version, median of ${RUNS} runs`);
  for (const r of results) {
    console.log(
      `${r.label.padEnd(34)} ${r.ms.toFixed(0).padStart(6)} ms  x${(r.ms / base).toFixed(2)}`,
    );
  }
  console.log(`bundle size: ${((await Deno.stat(bundle)).size / 1048576).toFixed(2)} MiB`);
} finally {
  await Deno.remove(scratch, { recursive: true });
}
