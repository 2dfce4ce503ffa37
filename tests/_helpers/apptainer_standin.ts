/**
 * Body of the `apptainer` STAND-IN (see apptainer-standin beside this file):
 * records its argv and imitates `build --pem-path` and `run` well enough to
 * test sealbatch's wrappers. Not Apptainer.
 */
import { makeTestImage, type TestImageKind } from "../image/_sif_images.ts";

interface StandinConfig {
  build?: TestImageKind | "fail" | "nothing";
  runExit?: number;
  /** Keep `run` busy this long (interruption tests). */
  runSleepMs?: number;
}

const [bin, command, ...rest] = Deno.args;
const args = [command ?? "", ...rest];
let config: StandinConfig = {};
try {
  config = JSON.parse(await Deno.readTextFile(`${bin}/standin.json`));
} catch {
  // defaults
}

function option(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** Positional arguments after the subcommand (flags and their values skipped). */
function positionals(): string[] {
  const out: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--pem-path" || a === "--bind") i++;
    else if (!a.startsWith("-")) out.push(a);
  }
  return out;
}

const pem = option("--pem-path");
const keyPresent = pem !== undefined &&
  (await Deno.stat(pem).then((s) => s.isFile, () => false));
await Deno.writeTextFile(`${bin}/calls.jsonl`, JSON.stringify({ argv: args, keyPresent }) + "\n", {
  append: true,
});

const log = (line: string) => console.error(`INFO:    ${line}`);

if (command === "build") {
  const [out, def] = positionals();
  log(`Starting build from ${def} (apptainer stand-in)`);
  console.log("stand-in: %post would run here");
  const mode = config.build ?? "luks2";
  if (mode === "fail") {
    console.error("FATAL:   While performing build: stand-in told to fail");
    Deno.exit(255);
  }
  if (mode !== "nothing") {
    const publicPem = pem ? await Deno.readTextFile(pem) : undefined;
    await makeTestImage(out!, { kind: mode, ...(publicPem ? { publicPem } : {}) });
  }
  log(`Build complete: ${out}`);
} else if (command === "run") {
  console.log(`stand-in run: ${positionals().join(" ")}`);
  if (config.runSleepMs) await new Promise((r) => setTimeout(r, config.runSleepMs));
  Deno.exit(config.runExit ?? 0);
} else if (command === "version" || command === "--version") {
  console.log("apptainer version 0.0.0-standin");
} else {
  console.error(`FATAL:   apptainer stand-in does not implement ${JSON.stringify(command)}`);
  Deno.exit(255);
}
