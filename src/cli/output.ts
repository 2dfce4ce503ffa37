/**
 * Everything the CLI prints goes through here: results to stdout (or JSON
 * with --json), messages and progress to stderr, colour only on a terminal
 * and never with NO_COLOR.
 */
import type { SealbatchError } from "../util/errors.ts";
import type { CheckLine } from "../remote/check.ts";

let json = false;
/** quiet: results and errors only; verbose: every step and the causes of an error. */
export type Verbosity = "quiet" | "normal" | "verbose";
let verbosity: Verbosity = "normal";
/** "json": progress, notes, warnings and errors as NDJSON events on stderr (for wrappers, GUIs). */
export type ProgressFormat = "text" | "json";
let progressFormat: ProgressFormat = "text";

export function setJsonMode(on: boolean): void {
  json = on;
}

export function jsonMode(): boolean {
  return json;
}

export function setOutputModes(o: { verbosity: Verbosity; progress: ProgressFormat }): void {
  verbosity = o.verbosity;
  progressFormat = o.progress;
}

export function currentVerbosity(): Verbosity {
  return verbosity;
}

export function progressJson(): boolean {
  return progressFormat === "json";
}

/** One NDJSON event on stderr (--progress=json). */
export function event(kind: string, fields: Record<string, unknown>): void {
  console.error(JSON.stringify({ event: kind, ...fields }));
}

function envFlag(name: string): boolean {
  try {
    return (Deno.env.get(name) ?? "") !== "";
  } catch {
    return false;
  }
}

const colorOn = () => !envFlag("NO_COLOR") && Deno.stderr.isTerminal();
const paint = (code: string) => (text: string) => colorOn() ? `\x1b[${code}m${text}\x1b[0m` : text;
export const bold = paint("1");
export const red = paint("31");
export const green = paint("32");
export const yellow = paint("33");
export const dim = paint("2");

/** Print a command's result: `human` text, or `data` as one JSON document with --json. */
export function result(human: string, data: unknown): void {
  if (json) console.log(JSON.stringify(data, null, 2));
  else if (human !== "") console.log(human);
}

/** A message for the person at the terminal (stderr, so stdout stays machine-readable). */
export function note(message: string): void {
  if (verbosity === "quiet") return;
  if (progressFormat === "json") return event("note", { message });
  console.error(message);
}

/** Only with -v/--verbose. */
export function detail(message: string): void {
  if (verbosity === "verbose") note(message);
}

export function warn(message: string): void {
  if (progressFormat === "json") return event("warning", { message });
  console.error(`${yellow("sealbatch: warning:")} ${message}`);
}

/**
 * Text from a job or a program shown to the user: kept as it is on a
 * terminal (colours), control characters other than tab and newline
 * replaced elsewhere (logs, files, wrappers).
 */
export function forDisplay(text: string): string {
  if (Deno.stderr.isTerminal() && progressFormat === "text") return text;
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "?");
}

/**
 * Messages quote what they name, but reasons from libraries and tools may
 * carry raw names or remote text: one line each, no terminal control bytes.
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\s*[\r\n]+\s*/g, "; ").replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

export function formatError(err: SealbatchError): string {
  if (progressFormat === "json") {
    return JSON.stringify({
      event: "error",
      kind: err.kind,
      exitCode: err.exitCode,
      message: oneLine(err.message),
      ...(err.hint ? { hint: oneLine(err.hint) } : {}),
    });
  }
  const lines = [`${red("sealbatch: error:")} ${oneLine(err.message)}`];
  if (err.hint) lines.push(`${dim("hint:")} ${oneLine(err.hint)}`);
  if (verbosity === "verbose") {
    for (let c = (err as { cause?: unknown }).cause, n = 0; c !== undefined && n < 5; n++) {
      lines.push(`${dim("cause:")} ${oneLine(c instanceof Error ? c.message : String(c))}`);
      c = (c as { cause?: unknown }).cause;
    }
  }
  return lines.join("\n");
}

export interface Progress {
  update(done: number, total?: number): void;
  done(message?: string): void;
}

/**
 * A one-line progress display on a terminal; silent when stderr is not a
 * terminal; with --progress=json, progress events (at most four a second).
 */
export function progress(label: string): Progress {
  if (progressFormat === "json") {
    let at = 0;
    return {
      update(done, total) {
        const now = Date.now();
        if (now - at < 250 && done !== total) return;
        at = now;
        event("progress", { label, done, ...(total !== undefined ? { total } : {}) });
      },
      done(message) {
        if (message) note(message);
      },
    };
  }
  const tty = Deno.stderr.isTerminal() && !json && progressFormat === "text" &&
    verbosity !== "quiet";
  const enc = new TextEncoder();
  let last = 0;
  return {
    update(done, total) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const pct = total ? ` ${Math.floor((done / total) * 100)}%` : "";
      const mib = (done / 1048576).toFixed(1);
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${label}${pct} (${mib} MiB)`));
    },
    done(message) {
      if (tty) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
      if (message) note(message);
    },
  };
}

/** One text form for every list of checks (site check, remote check, run --dry-run). */
export function checkText(lines: CheckLine[]): string {
  return lines.map((l) =>
    `${l.ok ? (l.warning ? yellow("WARN") : green("ok  ")) : red("FAIL")} ${l.check}: ${l.detail}${
      !l.ok && l.hint ? `\n     hint: ${l.hint}` : ""
    }`
  ).join("\n");
}
