/**
 * Builds dist/sealbatch.js the way `deno task bundle` does (into a temporary
 * directory) and runs it the way a user without the source would: the bundle
 * alone in a directory, no deno.json, no node_modules, an empty DENO_DIR, the
 * shipped permission flags and optionally no network at all (`unshare -n`).
 */
import { ROOT } from "../_helpers/cli.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";
import type { CliResult } from "../_helpers/cli.ts";

export const DENO = Deno.execPath();

/** Build the bundle into `dist` with scripts/build.ts; returns its path. */
export async function buildBundle(dist: string): Promise<string> {
  await exec(DENO, ["run", "-q", "-P=test", `${ROOT}/scripts/build.ts`, "bundle", "--dist", dist], {
    cwd: ROOT,
    env: { DENO_DIR: denoDir() },
    what: "building the bundle",
  });
  return `${dist}/sealbatch.js`;
}

/** The Deno cache the build itself may use (npm packages are resolved from it). */
function denoDir(): string {
  return Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
}

/** True when this process may create a network namespace with no interfaces but loopback. */
export async function canUnshareNet(): Promise<boolean> {
  if (Deno.uid() !== 0 || !(await hasProgram("unshare")) || !(await hasProgram("ip"))) {
    return false;
  }
  return (await exec("unshare", ["-n", "true"], { okCodes: [0, 1] }).catch(() => ({ code: 1 })))
    .code === 0;
}

export interface BundleRun {
  /** Directory holding only the bundle; also the working directory. */
  cwd: string;
  bundle: string;
  flags: string[];
  /** In a network namespace of its own: only loopback, brought up for the demo's Vault. */
  offline: boolean;
  /** Extra variables (the environment is otherwise cleared). */
  env?: Record<string, string>;
}

/** `unshare -n` starts with loopback down; up, it still reaches nothing outside the namespace. */
const LOOPBACK_UP = 'ip link set lo up && exec "$@"';

/**
 * Run the bundle with exactly `flags`, a minimal environment and an empty
 * DENO_DIR. With `script`, a shell script runs instead, in the same place,
 * with the bundle's command line as "$@" (for a server and its client).
 */
export async function runBundle(
  run: BundleRun,
  args: string[],
  script?: string,
): Promise<CliResult> {
  const deno = [DENO, "run", "-q", "--no-config", "--no-lock", ...run.flags, run.bundle, ...args];
  const shell = (s: string) => ["sh", "-c", s, "sh", ...deno];
  const [program, ...rest] = run.offline
    ? ["unshare", "-n", "--", ...shell(script ? `ip link set lo up && ${script}` : LOOPBACK_UP)]
    : script
    ? shell(script)
    : deno;
  const out = await new Deno.Command(program!, {
    args: rest,
    cwd: run.cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: `${run.cwd}/.home`,
      DENO_DIR: `${run.cwd}/.deno`,
      NO_COLOR: "1",
      ...run.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Copy the bundle alone into `dir` (with empty HOME and DENO_DIR) and return it. */
export async function isolate(bundle: string, dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/.home`);
  await Deno.mkdir(`${dir}/.deno`);
  await Deno.copyFile(bundle, `${dir}/sealbatch.js`);
  return `${dir}/sealbatch.js`;
}
