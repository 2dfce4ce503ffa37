/**
 * The one error type users see. Each kind maps to a fixed exit code so scripts
 * can tell a refusal from a typo; the table is documented in README.md.
 */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  input: 3,
  refused: 4,
  intercepted: 5,
  remote: 6,
  kms: 7,
  job: 8,
  tool: 9,
  permission: 10,
  /** Gave up waiting (job wait --timeout); the job itself keeps running. */
  timeout: 16,
  /** Ctrl-C (SIGINT); other signals exit 128 + their number (SIGTERM 143, SIGHUP 129). */
  interrupted: 130,
} as const;

export type ErrorKind = Exclude<keyof typeof EXIT_CODES, "ok">;

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class SealbatchError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SealbatchError";
    this.kind = kind;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** Shorthands keep call sites short and the kind visible. */
export const usageError = (m: string, o?: ErrorOptions) => new SealbatchError("usage", m, o);
export const inputError = (m: string, o?: ErrorOptions) => new SealbatchError("input", m, o);
export const refusal = (m: string, o?: ErrorOptions) => new SealbatchError("refused", m, o);

/** Longest value a message quotes whole; a hostile megabyte must not become the message. */
const MAX_QUOTED = 256;

/**
 * Quote a user-supplied value the same way in every message (its middle cut
 * when long). Plain data (parsed JSON or YAML) is shown as JSON: String() of
 * a hostile {"toString": 1} would throw.
 */
export function q(value: unknown): string {
  const plain = typeof value === "object" && value !== null &&
    [Object.prototype, Array.prototype, null].includes(Object.getPrototypeOf(value));
  const text = plain ? JSON.stringify(value) : String(value);
  if (text.length <= MAX_QUOTED) return JSON.stringify(text);
  const keep = MAX_QUOTED / 2;
  return `${JSON.stringify(text.slice(0, keep))}...${
    JSON.stringify(text.slice(-keep))
  } (${text.length} characters)`;
}

/** A short, single-line reason from any thrown value; never a stack. */
export function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split("\n").map((l) => l.trim()).filter((l) => l !== "").join("; ");
  return line.length > 300 ? line.slice(0, 297) + "..." : line;
}
