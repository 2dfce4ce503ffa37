/**
 * Shared pieces for the cross-module invariant tests: recording wrappers for
 * the external programs sealbatch may start, a CLI runner with a time limit
 * (a hang is a failure, not a stuck test), and secret-search helpers.
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { CLI_ARGS, ROOT } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";

export const IS_ROOT = Deno.uid() === 0;

/** Absolute path of `name` on this machine's PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Recorder {
  /** Directory to put first on PATH. */
  bin: string;
  /** Programs that got a wrapper (those installed here). */
  wrapped: string[];
  /** Everything recorded so far: one block per started program. */
  read(): Promise<string>;
  /** The environment for runCli: wrappers first on PATH. */
  env(extra?: Record<string, string>): Record<string, string>;
}

/**
 * A wrapper per program sealbatch may run (its `--allow-run` list): appends
 * its argv and its whole environment to a log, then execs the real program.
 * The log path is baked into the wrapper, since sealbatch gives children a
 * cleaned environment.
 */
export async function recordChildren(dir: string): Promise<Recorder> {
  const bin = `${dir}/record-bin`;
  const log = `${dir}/children.log`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(log, "");
  const bash = which("bash")!;
  const envProgram = which("env")!;
  const wrapped: string[] = [];
  for (const name of denoJson.permissions.sealbatch.run) {
    const real = which(name);
    if (real === undefined) continue;
    await Deno.writeTextFile(
      `${bin}/${name}`,
      `#!${bash}
{
  printf 'PROGRAM %s\\n' '${name}'
  for a in "$@"; do printf 'ARG %s\\n' "$a"; done
  '${envProgram}' | sed 's/^/ENV /'
  printf 'END\\n'
} >> '${log}'
exec '${real}' "$@"
`,
      { mode: 0o755 },
    );
    wrapped.push(name);
  }
  return {
    bin,
    wrapped,
    read: () => Deno.readTextFile(log),
    env: (extra = {}) => ({ PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`, ...extra }),
  };
}

/** Forms a secret could take in text: as is, hex, base64. */
export function secretForms(secret: string | Uint8Array): string[] {
  const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const b64 = btoa(String.fromCharCode(...bytes));
  const forms = [hex, b64];
  if (typeof secret === "string") forms.push(secret);
  else forms.push(String.fromCharCode(...bytes));
  return forms;
}

/** Assert that no form of any named secret occurs in `text`. */
export function assertNoSecrets(
  text: string,
  secrets: Record<string, string | Uint8Array>,
  where: string,
): void {
  for (const [name, secret] of Object.entries(secrets)) {
    for (const form of secretForms(secret)) {
      assert.ok(form.length >= 8, `secret ${name} is too short to search for`);
      assert.ok(!text.includes(form), `${name} appears in ${where}`);
    }
  }
}

/** A distinctive base64 line from the middle of an armored or PEM block (key material). */
export function keyMaterialLine(armored: string): string {
  const lines = armored.split("\n").filter((l) => /^[A-Za-z0-9+/]{40,}$/.test(l));
  assert.ok(lines.length > 0, "no base64 body in the key block");
  return lines[Math.floor(lines.length / 2)]!;
}

export interface TimedRun {
  args: string[];
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the CLI after this long (default 60 s): a hang is a failure. */
  timeoutMs?: number;
}

/** runCli with a time limit; `timedOut` tells a hang from an exit. */
export async function runCliTimed(run: TimedRun): Promise<CliResult & { timedOut: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      ...run.args,
    ],
    cwd: run.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...(run.env ?? {}) },
    stdin: run.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (run.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(typeof run.stdin === "string" ? new TextEncoder().encode(run.stdin) : run.stdin)
      .catch(() => {});
    await w.close().catch(() => {});
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, run.timeoutMs ?? 60_000);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Write `data` with mode 0600 (also under any umask). */
export async function privateFile(path: string, data: string | Uint8Array): Promise<string> {
  await Deno.writeFile(path, typeof data === "string" ? new TextEncoder().encode(data) : data, {
    mode: 0o600,
  });
  await Deno.chmod(path, 0o600);
  return path;
}

export function randomHex(bytes = 16): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}
