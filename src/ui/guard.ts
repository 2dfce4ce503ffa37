/**
 * Who may talk to `sealbatch ui`: the browser that opened the one-time login
 * URL, and nothing else on this machine or on the web. A random login token
 * (printed once, like Jupyter's) buys an HttpOnly, SameSite=Strict session
 * cookie that lives in this process only; every request must name this
 * server in its Host header (DNS rebinding) and, when it has an Origin, this
 * server's origin (cross-site requests); every state-changing request
 * carries the session's CSRF token.
 */

export const SESSION_COOKIE = "sealbatch_session";
export const CSRF_FIELD = "_csrf";

/** Addresses `sealbatch ui` may listen on: loopback only. */
export const LOOPBACK = ["127.0.0.1", "::1"];

export function randomToken(bytes = 32): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compare secrets without an early exit on the first differing byte. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export interface Session {
  id: string;
  csrf: string;
}

export type Verdict =
  | { ok: true }
  | { ok: false; status: 400 | 403; why: string };

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export class Guard {
  readonly port: number;
  /** Spent by the first login; a second use is refused. */
  #loginToken: string | undefined;
  readonly #sessions = new Map<string, Session>();

  constructor(port: number, loginToken = randomToken()) {
    this.port = port;
    this.#loginToken = loginToken;
  }

  /** The login token, for the URL printed at start (only until it is used). */
  get loginToken(): string | undefined {
    return this.#loginToken;
  }

  /** Host names this server answers to (a rebound DNS name is not among them). */
  hosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`, `[::1]:${this.port}`];
  }

  origins(): string[] {
    return this.hosts().map((h) => `http://${h}`);
  }

  /**
   * Host, Origin and Sec-Fetch-Site: checked on every request, before anything
   * else. `crossSiteNavigation`: a top-level GET from elsewhere is fine (the login).
   */
  checkSource(req: Request, opts: { crossSiteNavigation?: boolean } = {}): Verdict {
    const host = req.headers.get("host") ?? "";
    if (!this.hosts().includes(host.toLowerCase())) {
      return { ok: false, status: 400, why: "wrong Host header" };
    }
    const origin = req.headers.get("origin");
    if (origin !== null && !this.origins().includes(origin.toLowerCase())) {
      return { ok: false, status: 403, why: "request from another origin" };
    }
    const site = req.headers.get("sec-fetch-site");
    const navigation = opts.crossSiteNavigation && req.method === "GET" &&
      req.headers.get("sec-fetch-mode") === "navigate";
    if (site !== null && site !== "same-origin" && site !== "none" && !navigation) {
      return { ok: false, status: 403, why: "cross-site request" };
    }
    return { ok: true };
  }

  /** The session of this request, if its cookie names one. */
  session(req: Request): Session | undefined {
    const id = cookie(req, SESSION_COOKIE);
    if (id === undefined) return undefined;
    for (const [key, s] of this.#sessions) if (sameSecret(key, id)) return s;
    return undefined;
  }

  /** Spend the login token for a session; undefined when the token is wrong or used. */
  login(token: string | null): Session | undefined {
    if (token === null || this.#loginToken === undefined) return undefined;
    if (!sameSecret(token, this.#loginToken)) return undefined;
    this.#loginToken = undefined;
    const s = { id: randomToken(), csrf: randomToken() };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The session cookie: no Expires/Max-Age, so it also dies with the browser session. */
  static cookieHeader(s: Session): string {
    return `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict`;
  }

  static csrfOk(s: Session, sent: string | null | undefined): boolean {
    return typeof sent === "string" && sameSecret(sent, s.csrf);
  }
}

/** Headers on every response: nothing external, nothing framed, nothing cached or leaked. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // Not no-referrer: with it, browsers send "Origin: null" on form posts.
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};
