/**
 * A small HashiCorp Vault / OpenBao HTTP client on `fetch` (no SDK).
 * TLS verification is always on (a custom CA comes through
 * `Deno.createHttpClient`); every call has a timeout; only 5xx, 429 and
 * connection failures are retried, with backoff, and calls that change state
 * on the server (unwrap, token create) are retried only when the server
 * provably did not process them. Errors say what failed and never contain a
 * token or a response body that might hold a secret.
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";
import type { ErrorOptions } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";
import { readTextCapped } from "../util/files.ts";
import { requireNet } from "../util/permissions.ts";

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Opaque token strings as Vault issues them (hvs., s., custom ids): printable, no spaces. */
const TOKEN_RE = /^[A-Za-z0-9._~+/=-]{1,1024}$/;

/** Vault error phrases that are safe to repeat (they never carry secret values). */
const SAFE_PHRASES = [
  "wrapping token is not valid or does not exist",
  "invalid token",
  "permission denied",
  "check-and-set parameter did not match the current version",
  "check-and-set parameter required for this call",
  "error parsing check-and-set parameter",
  "no data provided",
  "child policies must be subset of parent",
  "restricted use token cannot generate child tokens",
  "root or sudo privileges required to create orphan token",
  "number of uses cannot be negative",
  "ttl must be positive",
  "invalid accessor",
  "bad token",
  "endpoint requires response wrapping to be used",
  "unsupported operation",
  "unsupported path",
  "Vault is sealed",
  "rate limit quota exceeded",
  "cannot write to a path ending in '/'",
];

export interface VaultSettings {
  /** Base address, e.g. https://vault.example.org:8200. */
  addr: string;
  namespace?: string;
  /** PEM file with the CA(s) that signed Vault's certificate. */
  caCert?: string;
  /** Per attempt, including reading the body (default 30 s). */
  timeoutMs?: number;
  /** Extra attempts after a retryable failure (default 2). */
  retries?: number;
  /** First backoff delay (default 200 ms), doubled per attempt. */
  backoffMs?: number;
}

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

export interface TokenAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  num_uses: number;
  lease_duration: number;
}

export interface TokenCreateParams {
  policies?: string[];
  ttl?: string;
  explicit_max_ttl?: string;
  num_uses?: number;
  renewable?: boolean;
  meta?: Record<string, string>;
  display_name?: string;
  no_default_policy?: boolean;
}

export interface VaultResponse {
  status: number;
  body: Record<string, unknown> | null;
}

/** A failed Vault call; `status` is 0 when no HTTP answer arrived. */
export class VaultError extends SealbatchError {
  readonly status: number;
  /** The safe Vault error phrases found in the answer. */
  readonly phrases: string[];

  constructor(message: string, status: number, phrases: string[], opts: ErrorOptions = {}) {
    super("kms", message, opts);
    this.status = status;
    this.phrases = phrases;
  }

  /** Vault's answer for a used, expired or unknown wrapping token. */
  get invalidWrappingToken(): boolean {
    return this.phrases.includes("wrapping token is not valid or does not exist");
  }

  get invalidToken(): boolean {
    return this.status === 403 && this.phrases.includes("invalid token");
  }
}

/** Refuse malformed token strings before they reach a header (and never echo them). */
export function checkToken(token: string, label = "Vault token"): string {
  if (!TOKEN_RE.test(token)) {
    throw inputError(`malformed ${label}: expected 1-1024 printable characters without spaces`, {
      hint: "tokens are opaque strings such as hvs.XXXX; check for stray quotes or line breaks",
    });
  }
  return token;
}

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
}

/** Validate a Vault address: https, or plain http only on loopback (dev server, tunnels). */
export function checkAddr(addr: string): string {
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw inputError(`invalid Vault address ${q(addr)}`, {
      hint: "use a URL such as https://vault.example.org:8200",
    });
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw inputError(`refusing Vault address ${q(addr)}: Vault must be reached over https`, {
      hint: "plain http is accepted only on loopback (development server, SSH tunnel)",
    });
  }
  if (url.username || url.password || url.search || url.hash) {
    throw inputError(`invalid Vault address ${q(addr)}: expected scheme, host, port and path only`);
  }
  return url.href.replace(/\/+$/, "");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function phrasesOf(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const text = errors.filter((e) => typeof e === "string").join("\n");
  return SAFE_PHRASES.filter((p) => text.includes(p));
}

function why(status: number, phrases: string[], rawErrors: unknown): string {
  if (phrases.includes("wrapping token is not valid or does not exist")) {
    return "wrapping token is not valid or does not exist";
  }
  if (phrases.includes("invalid token")) {
    return "permission denied (the token is invalid, expired, revoked or used up)";
  }
  if (phrases.length > 0) return phrases.join("; ");
  const text = Array.isArray(rawErrors)
    ? rawErrors.filter((e) => typeof e === "string").join(" ")
    : "";
  if (status === 404 && text.includes("no handler for route")) return "no such mount or endpoint";
  if (status === 404) return "not found";
  if (status === 429) return "Vault is rate limiting requests (HTTP 429)";
  if (status === 503) return "Vault is sealed or unavailable (HTTP 503)";
  return `Vault answered HTTP ${status}`;
}

type FailureKind = "timeout" | "connect" | "lost" | "tls";

function classify(err: unknown): FailureKind {
  const name = (err as { name?: string })?.name ?? "";
  if (name === "TimeoutError" || name === "AbortError") return "timeout";
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
  if (/certificate|tls|ssl|handshake/i.test(text)) return "tls";
  if (/tcp connect error|connection refused|\(Connect\)|dns error|failed to lookup/i.test(text)) {
    return "connect";
  }
  return "lost";
}

async function readCapped(res: Response): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_RESPONSE_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw new Error("response too large");
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw new Error("response too large");
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

export interface RequestOptions {
  /** What the call does, for errors: "read secret at \"secret/data/x\"". */
  what: string;
  body?: unknown;
  /** Token for this call; `null` sends none; default: the client's token. */
  token?: string | null;
  /** Ask Vault to wrap the response for this many seconds. */
  wrapTtlS?: number;
  /** Safe to repeat after an unclear failure (default: GET and LIST). */
  idempotent?: boolean;
  /** Statuses returned instead of thrown (e.g. 404 for "no such secret"). */
  accept?: number[];
}

export class VaultClient {
  readonly addr: string;
  readonly #settings: VaultSettings;
  readonly #token: string | undefined;
  readonly #http: Deno.HttpClient | undefined;
  /** Requests sent (attempts), for tests and benchmarks. */
  attempts = 0;

  private constructor(
    settings: VaultSettings,
    token: string | undefined,
    http: Deno.HttpClient | undefined,
  ) {
    this.addr = checkAddr(settings.addr);
    this.#settings = settings;
    this.#token = token;
    this.#http = http;
  }

  /** A client for `settings`; `token` is used for calls that do not name their own. */
  static async connect(settings: VaultSettings, token?: string): Promise<VaultClient> {
    const url = new URL(checkAddr(settings.addr));
    if (token !== undefined) checkToken(token);
    // A host outside this build's network list is refused before any packet.
    requireNet(
      url.hostname,
      Number(url.port || (url.protocol === "https:" ? 443 : 80)),
      "Vault at",
    );
    let http: Deno.HttpClient | undefined;
    if (settings.caCert) {
      const pem = await readTextCapped(settings.caCert, 1024 * 1024, "Vault CA certificate");
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
        throw inputError(
          `cannot use Vault CA certificate ${q(settings.caCert)}: no PEM certificate in it`,
        );
      }
      try {
        http = Deno.createHttpClient({ caCerts: [pem] });
      } catch {
        throw inputError(
          `cannot use Vault CA certificate ${q(settings.caCert)}: not a valid PEM certificate`,
        );
      }
    }
    return new VaultClient(settings, token, http);
  }

  /** The same server settings with another token (e.g. a token just unwrapped). */
  withToken(token: string): VaultClient {
    checkToken(token);
    return new VaultClient(this.#settings, token, this.#http);
  }

  close(): void {
    this.#http?.close();
  }

  async request(method: string, path: string, opts: RequestOptions): Promise<VaultResponse> {
    const token = opts.token === undefined ? this.#token : opts.token;
    const headers: Record<string, string> = { "X-Vault-Request": "true" };
    if (token !== null && token !== undefined) headers["X-Vault-Token"] = checkToken(token);
    if (this.#settings.namespace) headers["X-Vault-Namespace"] = this.#settings.namespace;
    if (opts.wrapTtlS !== undefined) headers["X-Vault-Wrap-TTL"] = String(opts.wrapTtlS);
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const idempotent = opts.idempotent ?? (method === "GET" || method === "LIST");
    const timeoutMs = this.#settings.timeoutMs ?? 30_000;
    const retries = this.#settings.retries ?? 2;
    const backoff = this.#settings.backoffMs ?? 200;
    const url = `${this.addr}/v1/${path}`;

    for (let attempt = 0;; attempt++) {
      const last = attempt >= retries;
      const delay = Math.min(5000, backoff * 2 ** attempt * (0.5 + Math.random() / 2));
      let res: Response;
      let text: string;
      this.attempts++;
      try {
        res = await fetch(url, {
          method,
          headers,
          ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
          signal: AbortSignal.timeout(timeoutMs),
          ...(this.#http ? { client: this.#http } : {}),
        });
        text = await readCapped(res);
      } catch (err) {
        const kind = err instanceof Error && err.message === "response too large"
          ? "large"
          : classify(err);
        // A request that may have reached the server is repeated only when that is harmless.
        const retryable = kind === "connect" ||
          ((kind === "timeout" || kind === "lost") && idempotent);
        if (retryable && !last) {
          await sleep(delay);
          continue;
        }
        throw this.#transportError(opts.what, kind, timeoutMs, idempotent);
      }
      const status = res.status;
      let body: Record<string, unknown> | null = null;
      if (text.trim() !== "") {
        try {
          body = JSON.parse(text);
        } catch {
          body = null;
        }
      }
      if (status < 300 || opts.accept?.includes(status)) return { status, body };
      // 503 (sealed, standby) and 429 (quota) are answered before any processing.
      const retryable = status === 429 || status === 503 || (status >= 500 && idempotent);
      if (retryable && !last) {
        await sleep(delay);
        continue;
      }
      const phrases = phrasesOf(body);
      const because = why(status, phrases, body?.errors);
      throw new VaultError(`cannot ${opts.what}: ${because}`, status, phrases, {
        ...(status === 403
          ? { hint: "check VAULT_TOKEN and the policies attached to it" }
          : status === 404 && because.startsWith("no such mount")
          ? { hint: "check the KV v2 mount name (default secret)" }
          : {}),
      });
    }
  }

  #transportError(what: string, kind: string, timeoutMs: number, idempotent: boolean): VaultError {
    const messages: Record<string, string> = {
      timeout: `no answer from Vault at ${this.addr} within ${Math.round(timeoutMs / 1000)}s`,
      connect: `cannot connect to Vault at ${this.addr}`,
      tls: `TLS verification of ${this.addr} failed (certificate not trusted or wrong host)`,
      lost: `the connection to Vault at ${this.addr} was lost before the answer was complete`,
      large: `Vault's answer was larger than ${MAX_RESPONSE_BYTES} bytes`,
    };
    const hints: Record<string, string> = {
      tls: "give the CA that signed Vault's certificate with --ca-cert or VAULT_CACERT",
      connect: "check VAULT_ADDR and that Vault is running and reachable",
    };
    const hint = hints[kind] ??
      (idempotent ? undefined : "the request may have been processed; check before repeating it");
    return new VaultError(`cannot ${what}: ${messages[kind]}`, 0, [], hint ? { hint } : {});
  }

  // ---- KV version 2 ----

  /** Write `data` at `<mount>/data/<path>`; `cas: 0` means "only if it does not exist". */
  async kvWrite(
    mount: string,
    path: string,
    data: Record<string, string>,
    opts: { cas?: number } = {},
  ): Promise<number> {
    const res = await this.request("POST", `${mount}/data/${path}`, {
      what: `write secret at ${q(`${mount}/data/${path}`)}`,
      body: { data, ...(opts.cas !== undefined ? { options: { cas: opts.cas } } : {}) },
      idempotent: opts.cas !== undefined,
    });
    return count((res.body?.data as { version?: unknown } | undefined)?.version, "write secret");
  }

  /** The secret map at `<mount>/data/<path>`, or null when there is none. */
  async kvRead(mount: string, path: string): Promise<Record<string, unknown> | null> {
    const res = await this.request("GET", `${mount}/data/${path}`, {
      what: `read secret at ${q(`${mount}/data/${path}`)}`,
      accept: [404],
    });
    if (res.status === 404) return null;
    return kvData(res.body);
  }

  /** Response-wrap a read of `<mount>/data/<path>`: single use, expires after `ttlS`. */
  async kvReadWrapped(mount: string, path: string, ttlS: number): Promise<WrapInfo> {
    const res = await this.request("GET", `${mount}/data/${path}`, {
      what: `wrap secret at ${q(`${mount}/data/${path}`)}`,
      wrapTtlS: ttlS,
      idempotent: false,
    });
    return wrapInfo(res.body, `wrap secret at ${q(`${mount}/data/${path}`)}`);
  }

  async kvDelete(mount: string, path: string): Promise<void> {
    await this.request("DELETE", `${mount}/data/${path}`, {
      what: `delete secret at ${q(`${mount}/data/${path}`)}`,
      idempotent: true,
    });
  }

  /** Delete every version and the metadata of a secret. */
  async kvDeleteMetadata(mount: string, path: string): Promise<void> {
    await this.request("DELETE", `${mount}/metadata/${path}`, {
      what: `delete secret metadata at ${q(`${mount}/metadata/${path}`)}`,
      idempotent: true,
    });
  }

  async kvList(mount: string, dir: string): Promise<string[]> {
    const res = await this.request("LIST", `${mount}/metadata/${dir}`, {
      what: `list secrets under ${q(`${mount}/metadata/${dir}`)}`,
      accept: [404],
    });
    if (res.status === 404) return [];
    const keys = (res.body?.data as { keys?: unknown } | undefined)?.keys;
    return keys === undefined || keys === null ? [] : strings(keys, "list secrets");
  }

  // ---- tokens ----

  async tokenCreate(params: TokenCreateParams): Promise<TokenAuth> {
    const res = await this.request("POST", "auth/token/create", {
      what: "create token",
      body: params,
      idempotent: false,
    });
    return tokenAuth(res.body, "create token");
  }

  /** Create a token and have Vault wrap it: only the wrapping token comes back. */
  async tokenCreateWrapped(params: TokenCreateParams, ttlS: number): Promise<WrapInfo> {
    const res = await this.request("POST", "auth/token/create", {
      what: "create wrapped token",
      body: params,
      wrapTtlS: ttlS,
      idempotent: false,
    });
    return wrapInfo(res.body, "create wrapped token");
  }

  async lookupSelf(): Promise<Record<string, unknown>> {
    const res = await this.request("GET", "auth/token/lookup-self", { what: "look up token" });
    return (res.body?.data ?? {}) as Record<string, unknown>;
  }

  async revokeSelf(): Promise<void> {
    await this.request("POST", "auth/token/revoke-self", {
      what: "revoke token",
      idempotent: true,
    });
  }

  /** Revoke by accessor; false when Vault no longer knows the accessor. */
  async revokeAccessor(accessor: string): Promise<boolean> {
    const res = await this.request("POST", "auth/token/revoke-accessor", {
      what: `revoke token with accessor ${q(accessor)}`,
      body: { accessor },
      idempotent: true,
      accept: [400],
    });
    return res.status !== 400;
  }

  // ---- response wrapping ----

  async wrap(data: Record<string, unknown>, ttlS: number): Promise<WrapInfo> {
    const res = await this.request("POST", "sys/wrapping/wrap", {
      what: "wrap data",
      body: data,
      wrapTtlS: ttlS,
      idempotent: false,
    });
    return wrapInfo(res.body, "wrap data");
  }

  /**
   * Look up a wrapping token without consuming it; null when it is used,
   * expired or unknown (Vault cannot tell these apart).
   */
  async wrapLookup(
    wrappingToken: string,
  ): Promise<{ creation_path: string; creation_time: string; creation_ttl: number } | null> {
    checkToken(wrappingToken, "wrapping token");
    const res = await this.request("POST", "sys/wrapping/lookup", {
      what: "look up wrapping token",
      body: { token: wrappingToken },
      token: null,
      idempotent: true,
      accept: [400],
    });
    if (res.status === 400) {
      if (phrasesOf(res.body).includes("wrapping token is not valid or does not exist")) {
        return null;
      }
      throw new VaultError(
        "cannot look up wrapping token: Vault answered HTTP 400",
        400,
        phrasesOf(res.body),
      );
    }
    const d = (res.body?.data ?? {}) as Record<string, unknown>;
    return {
      creation_path: text(d.creation_path, "look up wrapping token"),
      creation_time: text(d.creation_time, "look up wrapping token"),
      creation_ttl: count(d.creation_ttl, "look up wrapping token"),
    };
  }

  /** Unwrap: the wrapping token is its own credential (sent as X-Vault-Token). */
  async unwrap(wrappingToken: string): Promise<Record<string, unknown>> {
    checkToken(wrappingToken, "wrapping token");
    const res = await this.request("POST", "sys/wrapping/unwrap", {
      what: "unwrap credential",
      token: wrappingToken,
      idempotent: false,
    });
    return res.body ?? {};
  }

  async rewrap(wrappingToken: string): Promise<WrapInfo> {
    checkToken(wrappingToken, "wrapping token");
    const res = await this.request("POST", "sys/wrapping/rewrap", {
      what: "rewrap credential",
      body: { token: wrappingToken },
      idempotent: false,
    });
    return wrapInfo(res.body, "rewrap credential");
  }

  async health(): Promise<Record<string, unknown>> {
    const res = await this.request("GET", "sys/health", {
      what: "check Vault health",
      token: null,
      accept: [429, 472, 473, 501, 503],
    });
    return { status: res.status, ...(res.body ?? {}) };
  }
}

function malformed(what: string): VaultError {
  return new VaultError(`cannot ${what}: Vault's answer is malformed`, 200, []);
}

/*
 * Typed fields of an answer: absent is empty or 0, the wrong JSON type is a
 * malformed answer (String() of a hostile {"toString": 1} would throw).
 */
function text(v: unknown, what: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw malformed(what);
  return v;
}

function count(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d{1,15}$/.test(v)) return Number(v);
  throw malformed(what);
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw malformed(what);
  return v;
}

/** `data.data` of a KV v2 read envelope (also of an unwrapped one). */
export function kvData(body: Record<string, unknown> | null): Record<string, unknown> {
  const inner = (body?.data as { data?: unknown } | undefined)?.data;
  if (typeof inner !== "object" || inner === null) throw malformed("read secret");
  return inner as Record<string, unknown>;
}

export function wrapInfo(body: Record<string, unknown> | null, what: string): WrapInfo {
  const w = body?.wrap_info as Partial<WrapInfo> | null | undefined;
  if (!w || typeof w.token !== "string" || typeof w.accessor !== "string") throw malformed(what);
  return {
    token: checkToken(w.token, "wrapping token"),
    accessor: w.accessor,
    ttl: count(w.ttl, what),
    creation_time: text(w.creation_time, what),
    creation_path: text(w.creation_path, what),
    ...(typeof w.wrapped_accessor === "string" ? { wrapped_accessor: w.wrapped_accessor } : {}),
  };
}

export function tokenAuth(body: Record<string, unknown> | null, what: string): TokenAuth {
  const a = body?.auth as Partial<TokenAuth> | null | undefined;
  if (!a || typeof a.client_token !== "string" || typeof a.accessor !== "string") {
    throw malformed(what);
  }
  return {
    client_token: checkToken(a.client_token, "token"),
    accessor: a.accessor,
    policies: a.policies === undefined || a.policies === null ? [] : strings(a.policies, what),
    num_uses: count(a.num_uses, what),
    lease_duration: count(a.lease_duration, what),
  };
}

function envValue(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/** Settings from flags, then VAULT_* environment variables, then defaults. */
export function vaultSettings(
  flags: { addr?: string; caCert?: string; namespace?: string },
): VaultSettings {
  const addr = flags.addr ?? envValue("VAULT_ADDR") ?? "https://127.0.0.1:8200";
  const caCert = flags.caCert ?? envValue("VAULT_CACERT");
  const namespace = flags.namespace ?? envValue("VAULT_NAMESPACE");
  const timeout = envValue("VAULT_CLIENT_TIMEOUT");
  const retries = envValue("VAULT_MAX_RETRIES");
  if (retries !== undefined && !/^\d{1,2}$/.test(retries)) {
    throw inputError(`invalid VAULT_MAX_RETRIES ${q(retries)}: expected a number 0-99`);
  }
  return {
    addr: checkAddr(addr),
    ...(caCert ? { caCert } : {}),
    ...(namespace ? { namespace } : {}),
    ...(timeout ? { timeoutMs: parseDuration(timeout, "VAULT_CLIENT_TIMEOUT") } : {}),
    ...(retries !== undefined ? { retries: Number(retries) } : {}),
  };
}

/** The user's Vault token: VAULT_TOKEN, then ~/.vault-token (what `vault login` writes). */
export async function userToken(): Promise<string> {
  const env = envValue("VAULT_TOKEN");
  if (env !== undefined) return checkToken(env.trim(), "VAULT_TOKEN");
  const home = envValue("HOME");
  if (home) {
    try {
      const text = await readTextCapped(`${home}/.vault-token`, 4096, "Vault token file");
      if (text.trim() !== "") return checkToken(text.trim(), "token in ~/.vault-token");
    } catch (err) {
      if (!(err instanceof SealbatchError && /no such file/.test(err.message))) throw err;
    }
  }
  throw new SealbatchError(
    "kms",
    "no Vault token: VAULT_TOKEN is not set and ~/.vault-token does not exist",
    {
      hint: "log in with `vault login` or set VAULT_TOKEN",
    },
  );
}
