/**
 * The one subprocess helper: argument arrays only (never a shell string built
 * from input), a minimal environment unless a caller adds to it, stderr in the
 * error, and odd output treated as failure.
 */
import { reason, SealbatchError } from "./errors.ts";
import type { ErrorKind } from "./errors.ts";

/** Variables a child may see by default. Secrets (VAULT_TOKEN, ...) never pass. */
// SLURM_CONF: where Slurm's own programs find the cluster (a site that keeps it elsewhere sets it).
const BASE_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "TZ",
  "TMPDIR",
  "TERM",
  "SLURM_CONF",
];

export interface ExecOptions {
  /** Bytes or text for stdin; secrets travel this way, never in argv. A stream is piped through. */
  stdin?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Stream stdout into this sink instead of capturing it (bulk transfers). */
  stdoutTo?: WritableStream<Uint8Array>;
  /**
   * Keep only the first N bytes of stdout, then close it: a child still writing
   * ends by SIGPIPE (exit 141), which the caller lists in okCodes.
   */
  stdoutMax?: number;
  /** Stream stderr into this sink instead of capturing it (the error then has no detail). */
  stderrTo?: WritableStream<Uint8Array>;
  /** Extra variables for this child only. */
  env?: Record<string, string>;
  cwd?: string;
  /** Exit codes that count as success (default [0]). */
  okCodes?: number[];
  /** Stream the child's stdout/stderr to ours instead of capturing. */
  inherit?: "stdout" | "both";
  /** Fail when stdout is empty (the program said nothing where it must). */
  requireOutput?: boolean;
  /** What the call is for, used first in error messages ("cannot format container"). */
  what?: string;
  /** Error kind for a non-zero exit (default "tool"). */
  kind?: ErrorKind;
  signal?: AbortSignal;
  /**
   * Start the child in its own process group; `signal` then sends SIGTERM to
   * the whole group, as Slurm's cancel does to a batch step (so a grandchild
   * holding the output pipes cannot keep the call waiting).
   */
  processGroup?: boolean;
  /** Called with each stderr line while the child runs (progress parsing). */
  onStderrLine?: (line: string) => void;
  /**
   * Run at a lower CPU priority (through `nice`): bulk local work, such as a
   * cohort's sealing, yields to the steps that wait on the site and to the
   * user's own work.
   */
  background?: boolean;
}

/** `nice` exits so when it cannot start the program (not found, not executable). */
const NICE_CANNOT_RUN = [126, 127];

export interface ExecResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  /** stdout decoded as UTF-8. */
  text: string;
}

function childEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BASE_ENV) {
    let value: string | undefined;
    try {
      value = Deno.env.get(name);
    } catch {
      value = undefined; // not granted: the child simply does not get it
    }
    if (value !== undefined) env[name] = value;
  }
  if (env.PATH === undefined) {
    env.PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  }
  return { ...env, ...extra };
}

async function collectLines(
  stream: ReadableStream<Uint8Array>,
  onLine: ((line: string) => void) | undefined,
): Promise<string> {
  const decoder = new TextDecoder();
  let all = "";
  let pending = "";
  for await (const chunk of stream) {
    const text = decoder.decode(chunk, { stream: true });
    // Keep at most 64 KiB of stderr: enough for a reason, bounded for hostile tools.
    if (all.length < 65536) all += text;
    if (onLine) {
      pending += text;
      const lines = pending.split(/\r|\n/);
      pending = lines.pop() ?? "";
      for (const line of lines) if (line !== "") onLine(line);
    }
  }
  if (onLine && pending !== "") onLine(pending);
  return all;
}

async function readAtMost(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const out = new Uint8Array(max);
  let have = 0;
  const reader = stream.getReader();
  while (have < max) {
    const { value, done } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, max - have);
    out.set(value.subarray(0, take), have);
    have += take;
  }
  await reader.cancel().catch(() => {});
  return out.slice(0, have);
}

function lastLines(text: string, n = 3): string {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(-n).join("; ");
}

export async function exec(
  program: string,
  args: string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const what = opts.what ?? `running ${program}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(opts.background ? "nice" : program, {
      args: opts.background ? ["-n", "10", "--", program, ...args] : args,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      env: childEnv(opts.env),
      clearEnv: true,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: opts.inherit && !opts.stdoutTo ? "inherit" : "piped",
      stderr: opts.inherit === "both" && !opts.stderrTo ? "inherit" : "piped",
      ...(opts.signal && !opts.processGroup ? { signal: opts.signal } : {}),
      ...(opts.processGroup ? { detached: true } : {}),
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new SealbatchError(
        "tool",
        `${what}: program ${JSON.stringify(program)} is not installed`,
        {
          hint: `install it (Debian: apt-get install the package that provides ${program})`,
        },
      );
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new SealbatchError(
        "permission",
        `${what}: not allowed to run ${JSON.stringify(program)}`,
        {
          hint: "the program is missing from sealbatch's --allow-run list",
        },
      );
    }
    throw new SealbatchError("tool", `${what}: cannot start ${program}: ${reason(err)}`);
  }

  if (opts.processGroup && opts.signal) {
    const pid = child.pid;
    // Deno.kill on a group needs unrestricted --allow-run; bash's kill builtin does not.
    const killGroup = () =>
      void exec("bash", ["-c", 'kill -TERM -- "-$1"', "kill", String(pid)], {
        okCodes: [0, 1], // 1: the group is gone already
      }).catch(() => {});
    if (opts.signal.aborted) killGroup();
    else opts.signal.addEventListener("abort", killGroup, { once: true });
    child.status.finally(() => opts.signal!.removeEventListener("abort", killGroup));
  }

  const writing = (async () => {
    if (opts.stdin === undefined) return;
    if (opts.stdin instanceof ReadableStream) {
      // A child that exits early closes the pipe; its exit status tells the story. Once it has
      // exited, a stream that is still open (a node side waiting to say more) stops counting.
      const exited = new AbortController();
      child.status.finally(() => exited.abort());
      await opts.stdin.pipeTo(child.stdin, { signal: exited.signal }).catch(() => {});
      return;
    }
    const writer = child.stdin.getWriter();
    try {
      await writer.write(
        typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
      );
      await writer.close();
    } catch {
      // The child closed stdin early; its exit status tells the story.
    }
  })();
  const stdoutP = opts.stdoutTo
    ? child.stdout.pipeTo(opts.stdoutTo).then(() => new Uint8Array())
    : opts.inherit
    ? Promise.resolve(new Uint8Array())
    : opts.stdoutMax !== undefined
    ? readAtMost(child.stdout, opts.stdoutMax)
    : new Response(child.stdout).bytes();
  const stderrP = opts.stderrTo
    ? child.stderr.pipeTo(opts.stderrTo).then(() => "")
    : opts.inherit === "both"
    ? Promise.resolve("")
    : collectLines(child.stderr, opts.onStderrLine);
  const [status, stdout, stderr] = await Promise.all([child.status, stdoutP, stderrP, writing]);

  if (opts.background && NICE_CANNOT_RUN.includes(status.code) && /^(\S*\/)?nice: /m.test(stderr)) {
    throw new SealbatchError("tool", `${what}: cannot run ${JSON.stringify(program)}`, {
      hint: `install it (Debian: apt-get install the package that provides ${program})`,
    });
  }
  const okCodes = opts.okCodes ?? [0];
  if (!okCodes.includes(status.code)) {
    const why = status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`;
    const detail = lastLines(stderr);
    throw new SealbatchError(
      opts.kind ?? "tool",
      `${what}: ${program} failed (${why})${detail ? `: ${detail}` : ""}`,
    );
  }
  const text = new TextDecoder().decode(stdout);
  if (opts.requireOutput && text.trim() === "") {
    throw new SealbatchError(
      opts.kind ?? "tool",
      `${what}: ${program} printed nothing where output was expected`,
    );
  }
  return { code: status.code, stdout, stderr, text };
}

/** True when `program` can be found on PATH (for optional tools such as bart). */
export async function hasProgram(program: string): Promise<boolean> {
  const path = childEnv(undefined).PATH ?? "";
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const info = await Deno.stat(`${dir}/${program}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
