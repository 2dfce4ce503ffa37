/**
 * Runs the CLI exactly as users and the compiled binary do: `deno run` with the
 * project's `sealbatch` permission set (never -A), in a child process.
 */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * `deno` arguments that run this checkout's CLI as `deno task sealbatch` does
 * (the project's `sealbatch` permission set, never a prompt). After Deno.execPath().
 */
export const CLI_ARGS: readonly string[] = [
  "run",
  "-q",
  "--no-prompt",
  "-P=sealbatch",
  "--config",
  `${ROOT}/deno.json`,
  `${ROOT}/main.ts`,
];

/** An empty node config, so that the machine's /etc/sealbatch/node.yaml never leaks in. */
export const HERMETIC_NODE_CONFIG = `${ROOT}/tests/_helpers/node.yaml`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
  /** Replace the whole environment (default: inherit plus `env`). */
  clearEnv?: boolean;
}

export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      ...args,
    ],
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", SEALBATCH_NODE_CONFIG: HERMETIC_NODE_CONFIG, ...(opts.env ?? {}) },
    clearEnv: opts.clearEnv ?? false,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    );
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A fresh temporary directory removed by the returned function. */
export async function tempDir(
  prefix = "sealbatch-test",
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: `${prefix}-` });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

export function assertOneLineError(stderr: string): void {
  const lines = stderr.trim().split("\n").filter((l) => !l.startsWith("hint:"));
  if (lines.length !== 1 || !lines[0]!.startsWith("sealbatch: error: ")) {
    throw new Error(`expected one 'sealbatch: error:' line, got:\n${stderr}`);
  }
  if (/\n\s+at /.test(stderr)) throw new Error(`stack trace in stderr:\n${stderr}`);
}
