/**
 * A Vault-compatible development server: a stand-in for HashiCorp Vault /
 * OpenBao in tests, demos and training, like `vault server -dev` (in memory,
 * KV v2 at `secret/`, a root token). It implements the subset of the HTTP API
 * sealbatch uses with Vault's semantics: the response envelope, single-string
 * error arrays and status codes, `num_uses` counted per request, response
 * wrapping with single-use, expiring wrapping tokens, and ACL policies.
 * Production sites run the real Vault or OpenBao.
 */
import {
  capabilitiesFor,
  type Capability,
  DEFAULT_POLICY,
  parsePolicy,
  PolicyError,
} from "./policy.ts";
import type { PathRule } from "./policy.ts";

const ERR_DENIED = "1 error occurred:\n\t* permission denied\n\n";
const ERR_INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n";
const ERR_WRAPPING = "wrapping token is not valid or does not exist";
const MAX_BODY = 1024 * 1024;
const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const DEFAULT_TTL_S = 768 * 3600;
const MOUNT = "secret";
const WRAP_POLICY = "response-wrapping";
const SERVER_VERSION = "1.17.0+sealbatch-dev";

interface Reply {
  status: number;
  body?: Record<string, unknown> | null;
  /** Raw JSON text (a stored wrapped response is returned byte for byte). */
  raw?: string;
}

interface StoredResponse {
  status: number;
  raw: string;
}

interface TokenEntry {
  id: string;
  accessor: string;
  policies: string[];
  meta: Record<string, string> | null;
  displayName: string;
  /** Remaining uses; 0 = unlimited. */
  numUses: number;
  /** Created with a use limit: such a token may not create children. */
  useLimited: boolean;
  creationTime: number;
  ttlS: number;
  expireAt: number | null;
  explicitMaxTtlS: number;
  path: string;
  parent: string | null;
  renewable: boolean;
  children: Set<string>;
  wrapped?: { response: StoredResponse; creationPath: string };
}

interface KvVersion {
  data: Record<string, unknown>;
  created: string;
  deletion: string;
  destroyed: boolean;
}

interface KvEntry {
  versions: Map<number, KvVersion>;
  current: number;
  oldest: number;
  created: string;
  updated: string;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string> | null;
}

interface Ctx {
  method: "GET" | "POST" | "DELETE" | "LIST" | "PATCH";
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  token: TokenEntry | null;
  wrapTtlS: number;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const now = () => Date.now();
const rfc3339 = (ms: number) => new Date(ms).toISOString();

function randomString(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return [...bytes].map((b) => alphabet[b % 62]).join("");
}

function envelope(
  data: unknown,
  extra: Partial<Record<string, unknown>> = {},
): Record<string, unknown> {
  return {
    request_id: crypto.randomUUID(),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: "",
    ...extra,
  };
}

/** `sys/` responses carry every data key at the top level too, as Vault's injector does. */
function sysEnvelope(data: Record<string, unknown>): Record<string, unknown> {
  return { ...data, ...envelope(data, { mount_type: "system" }) };
}

/**
 * A request field read as text, the way Vault's weak decoding takes it:
 * absent is "", numbers and booleans become text, anything else is a 400
 * (String() of a hostile {"toString": 1} would throw).
 */
function textField(value: unknown, name: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new HttpError(400, `error converting input for field ${JSON.stringify(name)}`);
}

/** A request field read as a number: a number or numeric text (NaN for other text). */
function numberField(value: unknown, name: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") return Number(value);
  throw new HttpError(400, `error converting input for field ${JSON.stringify(name)}`);
}

/** Longer than any lease Vault grants; keeps expiry times valid dates. */
const MAX_TTL_S = 100 * 365 * 86400;

/** Vault TTLs: integer seconds or a Go duration such as "72h", "1h30m", "90s". */
export function parseTtlSeconds(value: unknown): number {
  if (value === undefined || value === null || value === "") return 0;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || Math.abs(value) > MAX_TTL_S) {
      throw new HttpError(400, "invalid ttl");
    }
    return Math.trunc(value);
  }
  const text = textField(value, "ttl").trim();
  if (/^-?\d+$/.test(text)) return parseTtlSeconds(Number(text));
  const m = text.match(/^(-?)((?:\d+(?:\.\d+)?(?:h|m|s|ms))+)$/);
  if (!m) throw new HttpError(400, `time: invalid duration ${JSON.stringify(text)}`);
  let seconds = 0;
  for (const part of m[2]!.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    const n = Number(part[1]);
    seconds += part[2] === "h"
      ? n * 3600
      : part[2] === "m"
      ? n * 60
      : part[2] === "s"
      ? n
      : n / 1000;
  }
  return parseTtlSeconds(m[1] === "-" ? -seconds : seconds);
}

export class DevVault {
  readonly rootToken: string;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #accessors = new Map<string, string>();
  readonly #kv = new Map<string, KvEntry>();
  readonly #policies = new Map<string, { text: string; rules: PathRule[] }>();
  #kvConfig = { maxVersions: 0, casRequired: false };

  constructor(rootToken?: string) {
    this.rootToken = rootToken ?? `hvs.${randomString(24)}`;
    this.#policies.set("default", { text: DEFAULT_POLICY, rules: parsePolicy(DEFAULT_POLICY) });
    const wrap = `path "sys/wrapping/unwrap" { capabilities = ["update"] }`;
    this.#policies.set(WRAP_POLICY, { text: wrap, rules: parsePolicy(wrap) });
    this.#addToken({
      id: this.rootToken,
      policies: ["root"],
      meta: null,
      displayName: "root",
      numUses: 0,
      ttlS: 0,
      explicitMaxTtlS: 0,
      path: "auth/token/root",
      parent: null,
      renewable: false,
    });
  }

  #addToken(t: {
    id?: string;
    policies: string[];
    meta: Record<string, string> | null;
    displayName: string;
    numUses: number;
    ttlS: number;
    explicitMaxTtlS: number;
    path: string;
    parent: string | null;
    renewable: boolean;
  }): TokenEntry {
    const entry: TokenEntry = {
      id: t.id ?? `hvs.${randomString(24)}`,
      accessor: randomString(24),
      policies: t.policies,
      meta: t.meta,
      displayName: t.displayName,
      numUses: t.numUses,
      useLimited: t.numUses > 0,
      creationTime: now(),
      ttlS: t.ttlS,
      expireAt: t.ttlS > 0 ? now() + t.ttlS * 1000 : null,
      explicitMaxTtlS: t.explicitMaxTtlS,
      path: t.path,
      parent: t.parent,
      renewable: t.renewable,
      children: new Set(),
    };
    this.#tokens.set(entry.id, entry);
    this.#accessors.set(entry.accessor, entry.id);
    if (t.parent) this.#tokens.get(t.parent)?.children.add(entry.id);
    return entry;
  }

  /** A live token entry, or undefined for unknown, revoked or expired tokens. */
  #live(id: string): TokenEntry | undefined {
    const entry = this.#tokens.get(id);
    if (!entry) return undefined;
    if (entry.expireAt !== null && now() >= entry.expireAt) {
      this.#revoke(id);
      return undefined;
    }
    return entry;
  }

  #revoke(id: string): void {
    const entry = this.#tokens.get(id);
    if (!entry) return;
    this.#tokens.delete(id);
    this.#accessors.delete(entry.accessor);
    if (entry.parent) this.#tokens.get(entry.parent)?.children.delete(id);
    for (const child of entry.children) this.#revoke(child);
  }

  #rules(entry: TokenEntry): PathRule[] {
    return entry.policies.flatMap((p) => this.#policies.get(p)?.rules ?? []);
  }

  #allowed(entry: TokenEntry, path: string, needed: Capability[]): boolean {
    if (entry.policies.includes("root")) return true;
    const caps = capabilitiesFor(this.#rules(entry), path);
    if (caps.has("deny")) return false;
    return needed.some((c) => caps.has(c));
  }

  /** Serve one HTTP request. */
  async handle(req: Request): Promise<Response> {
    try {
      return await this.#handle(req);
    } catch (err) {
      if (err instanceof HttpError) {
        return json(err.status, { errors: err.message === "" ? [] : [err.message] });
      }
      return json(500, { errors: ["1 error occurred:\n\t* internal error\n\n"] });
    }
  }

  async #handle(req: Request): Promise<Response> {
    // req.url is built from the Host header and throws for one that is no host.
    // (HTTP/2 has none: its :authority is checked by the HTTP layer.)
    const host = req.headers.get("host");
    if (host !== null && (!HOST_RE.test(host) || !URL.canParse(`http://${host}/`))) {
      throw new HttpError(400, "invalid Host header");
    }
    const url = new URL(req.url);
    if (!url.pathname.startsWith("/v1/")) throw new HttpError(404, "");
    let path: string;
    try {
      path = decodeURIComponent(url.pathname.slice(4));
    } catch (err) {
      if (err instanceof URIError) throw new HttpError(400, "invalid URL escape in the path");
      throw err;
    }
    let method = req.method.toUpperCase();
    if (method === "PUT") method = "POST";
    if (method === "GET" && url.searchParams.get("list") === "true") method = "LIST";
    if (method === "HEAD" && path === "sys/health") method = "GET";
    if (!["GET", "POST", "DELETE", "LIST", "PATCH"].includes(method)) {
      throw new HttpError(405, "1 error occurred:\n\t* unsupported operation\n\n");
    }
    if (path === "sys/health") return this.#health(url.searchParams);

    const body = await readBody(req);
    const wrapTtlS = wrapHeader(req.headers.get("x-vault-wrap-ttl"));
    const tokenId = req.headers.get("x-vault-token") ??
      req.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
    const ctx: Ctx = {
      method: method as Ctx["method"],
      path,
      query: url.searchParams,
      body,
      token: null,
      wrapTtlS,
    };

    // Unauthenticated for the wrapping token itself; validated before any token check.
    if (path === "sys/wrapping/lookup") {
      return respond(this.#wrapLookup(textField(body.token ?? tokenId, "token")));
    }
    if (path === "sys/wrapping/unwrap" && body.token === undefined) {
      return respond(this.#unwrap(tokenId));
    }

    const entry = tokenId === "" ? undefined : this.#live(tokenId);
    if (!entry) throw new HttpError(403, ERR_INVALID_TOKEN);
    ctx.token = entry;
    // A use is consumed before the handler runs, even when the request is then denied.
    let exhausted = false;
    if (entry.numUses > 0) {
      entry.numUses--;
      exhausted = entry.numUses === 0;
    }
    try {
      if (
        !path.startsWith("sys/internal/ui/mounts/") &&
        !this.#allowed(entry, path, this.#needed(ctx))
      ) {
        throw new HttpError(403, ERR_DENIED);
      }
      if (path === "sys/wrapping/wrap" && wrapTtlS <= 0) {
        throw new HttpError(400, "endpoint requires response wrapping to be used");
      }
      let reply = this.#dispatch(ctx);
      // Rewrap already answers with a wrap envelope.
      const wrappable = reply.status === 200 && (reply.body || reply.raw) &&
        path !== "sys/wrapping/rewrap";
      if (wrapTtlS > 0 && wrappable) reply = this.#wrap(reply, path, wrapTtlS);
      return respond(reply);
    } finally {
      if (exhausted) this.#revoke(entry.id);
    }
  }

  #needed(ctx: Ctx): Capability[] {
    switch (ctx.method) {
      case "GET":
        return ["read"];
      case "LIST":
        return ["list"];
      case "DELETE":
        return ["delete"];
      case "PATCH":
        return ["patch"];
      case "POST": {
        const kv = ctx.path.match(/^secret\/data\/(.+)$/);
        if (kv) return this.#kvLive(kv[1]!) ? ["update"] : ["create"];
        return ["update", "create"];
      }
    }
  }

  #dispatch(ctx: Ctx): Reply {
    const { path, method } = ctx;
    const route = (m: string, p: RegExp) => (method === m ? path.match(p) : null);
    let m: RegExpMatchArray | null;
    if (path.startsWith(`${MOUNT}/`)) return this.#kvRoute(ctx);
    if ((m = path.match(/^sys\/internal\/ui\/mounts\/(.*)$/)) && method === "GET") {
      if (!(m[1]! === MOUNT || m[1]!.startsWith(`${MOUNT}/`))) throw new HttpError(403, ERR_DENIED);
      return ok(envelope({
        type: "kv",
        path: `${MOUNT}/`,
        options: { version: "2" },
        description: "key/value secret storage",
      }));
    }
    if ((m = path.match(/^sys\/policies\/acl\/?(.*)$/))) {
      return this.#policyRoute(method, m[1]!, ctx);
    }
    if ((m = route("POST", /^auth\/token\/(create|create-orphan)$/))) {
      return this.#tokenCreate(ctx, m[1] === "create-orphan");
    }
    if (route("GET", /^auth\/token\/lookup-self$/)) return ok(this.#lookupData(ctx.token!, true));
    if (route("POST", /^auth\/token\/lookup$/)) {
      const entry = this.#live(textField(ctx.body.token, "token"));
      if (!entry) throw new HttpError(403, "bad token");
      return ok(this.#lookupData(entry, true));
    }
    if (route("POST", /^auth\/token\/lookup-accessor$/)) {
      return ok(this.#lookupData(this.#byAccessor(ctx.body.accessor), false));
    }
    if (route("POST", /^auth\/token\/revoke-self$/)) {
      this.#revoke(ctx.token!.id);
      return { status: 204 };
    }
    if (route("POST", /^auth\/token\/revoke$/)) {
      this.#revoke(textField(ctx.body.token, "token"));
      return { status: 204 };
    }
    if (route("POST", /^auth\/token\/revoke-accessor$/)) {
      this.#revoke(this.#byAccessor(ctx.body.accessor).id);
      return { status: 204 };
    }
    if (route("POST", /^sys\/wrapping\/unwrap$/)) {
      return this.#unwrap(textField(ctx.body.token, "token"));
    }
    if (route("POST", /^sys\/wrapping\/wrap$/)) {
      return ok(envelope(ctx.body, { mount_type: "system" }));
    }
    if (route("POST", /^sys\/wrapping\/rewrap$/)) {
      return this.#rewrap(textField(ctx.body.token, "token"));
    }
    throw new HttpError(
      404,
      `no handler for route ${JSON.stringify(path)}. route entry not found.`,
    );
  }

  #byAccessor(accessor: unknown): TokenEntry {
    const id = this.#accessors.get(textField(accessor, "accessor"));
    const entry = id === undefined ? undefined : this.#live(id);
    if (!entry) throw new HttpError(400, "invalid accessor");
    return entry;
  }

  #health(query: URLSearchParams): Response {
    const status = Number(query.get("activecode") ?? 200);
    return json(Number.isInteger(status) && status >= 200 && status < 600 ? status : 200, {
      initialized: true,
      sealed: false,
      standby: false,
      performance_standby: false,
      replication_performance_mode: "disabled",
      replication_dr_mode: "disabled",
      server_time_utc: Math.floor(now() / 1000),
      version: SERVER_VERSION,
      cluster_name: "sealbatch-dev",
      cluster_id: "00000000-0000-0000-0000-000000000000",
    });
  }

  // ---- tokens ----

  #tokenCreate(ctx: Ctx, orphanRoute: boolean): Reply {
    const parent = ctx.token!;
    const b = ctx.body;
    const isRoot = parent.policies.includes("root");
    if (parent.useLimited) {
      throw new HttpError(400, "restricted use token cannot generate child tokens");
    }
    if ((b.no_parent === true || orphanRoute) && !isRoot) {
      throw new HttpError(400, "root or sudo privileges required to create orphan token");
    }
    const numUses = numberField(b.num_uses ?? 0, "num_uses");
    if (!Number.isInteger(numUses)) throw new HttpError(400, "invalid num_uses");
    if (numUses < 0) throw new HttpError(400, "number of uses cannot be negative");
    if (b.type === "batch") {
      throw new HttpError(400, "batch tokens are not supported by the development server");
    }
    if (b.id !== undefined) {
      if (!isRoot) throw new HttpError(400, "root or sudo privileges required to specify token id");
      if (textField(b.id, "id").includes(".")) {
        throw new HttpError(400, "token IDs can not contain a period");
      }
      if (this.#tokens.has(textField(b.id, "id"))) {
        throw new HttpError(400, "cannot create a token with a duplicate ID");
      }
    }
    let policies = Array.isArray(b.policies)
      ? b.policies.map((p) => textField(p, "policies"))
      : typeof b.policies === "string" && b.policies !== ""
      ? b.policies.split(",").map((p) => p.trim())
      : parent.policies.filter((p) => p !== "default");
    policies = [...new Set(policies.filter((p) => p !== ""))];
    if (!isRoot) {
      const allowed = new Set([...parent.policies, "default"]);
      if (policies.some((p) => !allowed.has(p))) {
        throw new HttpError(400, "child policies must be subset of parent");
      }
    }
    if (
      !policies.includes("root") && b.no_default_policy !== true && !policies.includes("default")
    ) {
      policies.push("default");
    }
    policies.sort();
    const ttl = parseTtlSeconds(b.ttl);
    const maxTtl = parseTtlSeconds(b.explicit_max_ttl);
    if (ttl < 0) throw new HttpError(400, "ttl must be positive");
    if (maxTtl < 0) throw new HttpError(400, "explicit_max_ttl must be positive");
    let ttlS = ttl > 0 ? ttl : policies.includes("root") ? 0 : DEFAULT_TTL_S;
    if (maxTtl > 0 && (ttlS === 0 || ttlS > maxTtl)) ttlS = maxTtl;
    const meta = b.meta && typeof b.meta === "object"
      ? Object.fromEntries(Object.entries(b.meta).map(([k, v]) => [k, textField(v, "meta")]))
      : null;
    const name = textField(b.display_name, "display_name").replace(/[^a-zA-Z0-9-]/g, "-").replace(
      /-+$/,
      "",
    );
    const warnings = policies.filter((p) => p !== "root" && !this.#policies.has(p))
      .map((p) => `Policy ${JSON.stringify(p)} does not exist`);
    const entry = this.#addToken({
      ...(b.id !== undefined ? { id: textField(b.id, "id") } : {}),
      policies,
      meta,
      displayName: name === "" ? "token" : `token-${name}`,
      numUses,
      ttlS,
      explicitMaxTtlS: maxTtl,
      path: orphanRoute ? "auth/token/create-orphan" : "auth/token/create",
      parent: b.no_parent === true || orphanRoute ? null : parent.id,
      renewable: b.renewable === undefined ? true : Boolean(b.renewable),
    });
    return ok(envelope(null, {
      warnings: warnings.length ? warnings : null,
      auth: {
        client_token: entry.id,
        accessor: entry.accessor,
        policies: entry.policies,
        token_policies: entry.policies,
        metadata: entry.meta,
        lease_duration: entry.ttlS,
        renewable: entry.renewable,
        entity_id: "",
        token_type: "service",
        orphan: entry.parent === null,
        mfa_requirement: null,
        num_uses: entry.numUses,
      },
    }));
  }

  #lookupData(entry: TokenEntry, withId: boolean): Record<string, unknown> {
    const ttl = entry.expireAt === null
      ? 0
      : Math.max(0, Math.ceil((entry.expireAt - now()) / 1000));
    return envelope({
      accessor: entry.accessor,
      creation_time: Math.floor(entry.creationTime / 1000),
      creation_ttl: entry.ttlS,
      display_name: entry.displayName,
      entity_id: "",
      expire_time: entry.expireAt === null ? null : rfc3339(entry.expireAt),
      explicit_max_ttl: entry.explicitMaxTtlS,
      id: withId ? entry.id : "",
      issue_time: rfc3339(entry.creationTime),
      meta: entry.meta,
      num_uses: entry.numUses,
      orphan: entry.parent === null,
      path: entry.path,
      policies: entry.policies,
      renewable: entry.renewable,
      ttl,
      type: "service",
    }, { mount_type: "token" });
  }

  // ---- response wrapping ----

  #wrap(reply: Reply, creationPath: string, ttlS: number): Reply {
    const raw = reply.raw ?? JSON.stringify(reply.body);
    const inner = reply.body?.auth as { accessor?: string } | null | undefined;
    const wrapping = this.#addToken({
      policies: [WRAP_POLICY],
      meta: null,
      displayName: "",
      numUses: 1,
      ttlS,
      explicitMaxTtlS: 0,
      path: "",
      parent: null,
      renewable: false,
    });
    wrapping.wrapped = { response: { status: reply.status, raw }, creationPath };
    return ok(this.#wrapEnvelope(wrapping, inner?.accessor));
  }

  #wrapEnvelope(
    wrapping: TokenEntry,
    wrappedAccessor: string | undefined,
  ): Record<string, unknown> {
    return {
      ...envelope(null),
      request_id: "",
      wrap_info: {
        token: wrapping.id,
        accessor: wrapping.accessor,
        ttl: wrapping.ttlS,
        creation_time: rfc3339(wrapping.creationTime),
        creation_path: wrapping.wrapped!.creationPath,
        ...(wrappedAccessor ? { wrapped_accessor: wrappedAccessor } : {}),
      },
    };
  }

  #wrappingEntry(id: string): TokenEntry {
    const entry = id === "" ? undefined : this.#live(id);
    if (!entry?.wrapped) throw new HttpError(400, ERR_WRAPPING);
    return entry;
  }

  #wrapLookup(id: string): Reply {
    const entry = this.#wrappingEntry(id);
    return ok(sysEnvelope({
      creation_path: entry.wrapped!.creationPath,
      creation_time: rfc3339(entry.creationTime),
      creation_ttl: entry.ttlS,
    }));
  }

  #unwrap(id: string): Reply {
    const entry = this.#wrappingEntry(id);
    this.#revoke(entry.id);
    const { status, raw } = entry.wrapped!.response;
    return { status, raw };
  }

  #rewrap(id: string): Reply {
    const old = this.#wrappingEntry(id);
    this.#revoke(old.id);
    const fresh = this.#addToken({
      policies: [WRAP_POLICY],
      meta: null,
      displayName: "",
      numUses: 1,
      ttlS: old.ttlS,
      explicitMaxTtlS: 0,
      path: "",
      parent: null,
      renewable: false,
    });
    fresh.wrapped = old.wrapped!;
    const inner = JSON.parse(old.wrapped!.response.raw)?.auth?.accessor as string | undefined;
    return ok(this.#wrapEnvelope(fresh, inner));
  }

  // ---- ACL policies ----

  #policyRoute(method: string, name: string, ctx: Ctx): Reply {
    if (name === "") {
      if (method !== "LIST") {
        throw new HttpError(405, "1 error occurred:\n\t* unsupported operation\n\n");
      }
      return ok(
        sysEnvelope({
          keys: [
            "default",
            "root",
            ...[...this.#policies.keys()].filter((k) => k !== "default" && k !== WRAP_POLICY),
          ].sort(),
        }),
      );
    }
    if (method === "GET") {
      const p = this.#policies.get(name);
      if (!p || name === WRAP_POLICY) throw new HttpError(404, "");
      return ok(sysEnvelope({ name, policy: p.text }));
    }
    if (method === "POST") {
      if (name === "root" || name === WRAP_POLICY) {
        throw new HttpError(400, `cannot update ${name} policy`);
      }
      let text = textField(ctx.body.policy ?? ctx.body.rules, "policy");
      if (text !== "" && /^[A-Za-z0-9+/=\s]+$/.test(text) && !text.includes("path")) {
        try {
          text = new TextDecoder().decode(
            Uint8Array.from(atob(text.replace(/\s/g, "")), (c) => c.charCodeAt(0)),
          );
        } catch {
          // not base64: parsed as written
        }
      }
      try {
        this.#policies.set(name, { text, rules: parsePolicy(text) });
      } catch (err) {
        throw new HttpError(
          400,
          `failed to parse policy: ${err instanceof PolicyError ? err.message : "syntax error"}`,
        );
      }
      return { status: 204 };
    }
    if (method === "DELETE") {
      if (name === "root" || name === "default") {
        throw new HttpError(400, `cannot delete ${name} policy`);
      }
      this.#policies.delete(name);
      return { status: 204 };
    }
    throw new HttpError(405, "1 error occurred:\n\t* unsupported operation\n\n");
  }

  // ---- KV version 2 ----

  #kvLive(path: string): KvVersion | undefined {
    const e = this.#kv.get(path);
    const v = e?.versions.get(e.current);
    return v && v.deletion === "" && !v.destroyed ? v : undefined;
  }

  #kvRoute(ctx: Ctx): Reply {
    const m = ctx.path.match(/^secret\/(data|metadata|delete|undelete|destroy|config)(?:\/(.*))?$/);
    if (!m) {
      throw new HttpError(
        404,
        `no handler for route ${JSON.stringify(ctx.path)}. route entry not found.`,
      );
    }
    const op = m[1]!;
    const key = m[2] ?? "";
    if (op === "config") return this.#kvConfigRoute(ctx);
    if (key === "" && !(op === "metadata" && ctx.method === "LIST")) {
      throw new HttpError(
        404,
        `no handler for route ${JSON.stringify(ctx.path)}. route entry not found.`,
      );
    }
    if (ctx.method === "POST" && key.endsWith("/")) {
      throw new HttpError(400, "cannot write to a path ending in '/'");
    }
    switch (`${op} ${ctx.method}`) {
      case "data GET":
        return this.#kvRead(key, ctx.query.get("version"));
      case "data POST":
        return this.#kvWrite(key, ctx.body);
      case "data DELETE": {
        const e = this.#kv.get(key);
        const v = e?.versions.get(e.current);
        if (v && v.deletion === "") v.deletion = rfc3339(now());
        return { status: 204 };
      }
      case "metadata GET":
        return this.#kvMetadata(key);
      case "metadata LIST":
        return this.#kvList(key);
      case "metadata DELETE":
        this.#kv.delete(key);
        return { status: 204 };
      case "metadata POST": {
        const e = this.#kv.get(key) ?? this.#newKvEntry(key);
        if (ctx.body.max_versions !== undefined) {
          e.maxVersions = numberField(ctx.body.max_versions, "max_versions");
        }
        if (ctx.body.cas_required !== undefined) e.casRequired = Boolean(ctx.body.cas_required);
        if (ctx.body.custom_metadata && typeof ctx.body.custom_metadata === "object") {
          e.customMetadata = Object.fromEntries(
            Object.entries(ctx.body.custom_metadata).map((
              [k, v],
            ) => [k, textField(v, "custom_metadata")]),
          );
        }
        return { status: 204 };
      }
      case "delete POST":
      case "undelete POST":
      case "destroy POST": {
        const versions = ctx.body.versions;
        if (!Array.isArray(versions) || versions.length === 0) {
          throw new HttpError(400, "no version number provided");
        }
        const e = this.#kv.get(key);
        for (const n of versions.map((v) => numberField(v, "versions"))) {
          const v = e?.versions.get(n);
          if (!v) continue;
          if (op === "delete" && v.deletion === "") v.deletion = rfc3339(now());
          if (op === "undelete" && !v.destroyed) v.deletion = "";
          if (op === "destroy") {
            v.destroyed = true;
            v.data = {};
          }
        }
        return { status: 204 };
      }
    }
    throw new HttpError(405, "1 error occurred:\n\t* unsupported operation\n\n");
  }

  #kvConfigRoute(ctx: Ctx): Reply {
    if (ctx.method === "GET") {
      return ok(envelope({
        cas_required: this.#kvConfig.casRequired,
        delete_version_after: "0s",
        max_versions: this.#kvConfig.maxVersions,
      }, { mount_type: "kv" }));
    }
    if (ctx.method === "POST") {
      if (ctx.body.max_versions !== undefined) {
        this.#kvConfig.maxVersions = numberField(ctx.body.max_versions, "max_versions");
      }
      if (ctx.body.cas_required !== undefined) {
        this.#kvConfig.casRequired = Boolean(ctx.body.cas_required);
      }
      return { status: 204 };
    }
    throw new HttpError(405, "1 error occurred:\n\t* unsupported operation\n\n");
  }

  #newKvEntry(key: string): KvEntry {
    const t = rfc3339(now());
    const e: KvEntry = {
      versions: new Map(),
      current: 0,
      oldest: 0,
      created: t,
      updated: t,
      maxVersions: 0,
      casRequired: false,
      customMetadata: null,
    };
    this.#kv.set(key, e);
    return e;
  }

  #versionMeta(e: KvEntry, n: number, v: KvVersion): Record<string, unknown> {
    return {
      created_time: v.created,
      custom_metadata: e.customMetadata,
      deletion_time: v.deletion,
      destroyed: v.destroyed,
      version: n,
    };
  }

  #kvRead(key: string, versionParam: string | null): Reply {
    const e = this.#kv.get(key);
    const n = versionParam !== null && versionParam !== "0"
      ? Number(versionParam)
      : e?.current ?? 0;
    const v = e?.versions.get(n);
    if (!e || !v) throw new HttpError(404, "");
    const deleted = (v.deletion !== "" && Date.parse(v.deletion) <= now()) || v.destroyed;
    const body = envelope(
      { data: deleted ? null : structuredClone(v.data), metadata: this.#versionMeta(e, n, v) },
      { mount_type: "kv" },
    );
    return { status: deleted ? 404 : 200, body };
  }

  #kvWrite(key: string, body: Record<string, unknown>): Reply {
    const data = body.data;
    if (data === undefined || data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new HttpError(400, "no data provided");
    }
    const existing = this.#kv.get(key);
    const cas = (body.options as { cas?: unknown } | undefined)?.cas;
    const casRequired = this.#kvConfig.casRequired || (existing?.casRequired ?? false);
    if (cas === undefined || cas === null) {
      if (casRequired) throw new HttpError(400, "check-and-set parameter required for this call");
    } else {
      const n = typeof cas === "number"
        ? cas
        : typeof cas === "string" && /^\d+$/.test(cas)
        ? Number(cas)
        : NaN;
      if (!Number.isInteger(n)) throw new HttpError(400, "error parsing check-and-set parameter");
      if (n !== (existing?.current ?? 0)) {
        throw new HttpError(400, "check-and-set parameter did not match the current version");
      }
    }
    const e = existing ?? this.#newKvEntry(key);
    const t = rfc3339(now());
    const n = e.current + 1;
    const v: KvVersion = {
      data: structuredClone(data as Record<string, unknown>),
      created: t,
      deletion: "",
      destroyed: false,
    };
    e.versions.set(n, v);
    e.current = n;
    e.updated = t;
    if (e.oldest === 0) e.oldest = 1;
    const keep = e.maxVersions || this.#kvConfig.maxVersions || 10;
    while (e.versions.size > keep) {
      e.versions.delete(e.oldest);
      e.oldest++;
    }
    return ok(envelope(this.#versionMeta(e, n, v), { mount_type: "kv" }));
  }

  #kvMetadata(key: string): Reply {
    const e = this.#kv.get(key);
    if (!e) throw new HttpError(404, "");
    const versions: Record<string, unknown> = {};
    for (const [n, v] of e.versions) {
      versions[String(n)] = {
        created_time: v.created,
        deletion_time: v.deletion,
        destroyed: v.destroyed,
      };
    }
    return ok(envelope({
      cas_required: e.casRequired,
      created_time: e.created,
      current_version: e.current,
      custom_metadata: e.customMetadata,
      delete_version_after: "0s",
      max_versions: e.maxVersions,
      oldest_version: e.oldest,
      updated_time: e.updated,
      versions,
    }, { mount_type: "kv" }));
  }

  #kvList(dir: string): Reply {
    const prefix = dir === "" || dir.endsWith("/") ? dir : `${dir}/`;
    const keys = new Set<string>();
    for (const key of this.#kv.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) throw new HttpError(404, "");
    return ok(envelope({ keys: [...keys].sort() }, { mount_type: "kv" }));
  }
}

function ok(body: Record<string, unknown>): Reply {
  return { status: 200, body };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function respond(reply: Reply): Response {
  if (reply.raw !== undefined) {
    return new Response(reply.raw, {
      status: reply.status,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  }
  if (reply.status === 204 || !reply.body) {
    return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
  }
  return json(reply.status, reply.body);
}

async function readBody(req: Request): Promise<Record<string, unknown>> {
  if (!req.body) return {};
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY) throw new HttpError(413, "http: request body too large");
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    // A client that goes away or breaks the chunked encoding fails the read: its fault, a 400.
    const { done, value } = await reader.read().catch(() => {
      throw new HttpError(400, "error reading the request body");
    });
    if (done) break;
    size += value.length;
    if (size > MAX_BODY) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, "http: request body too large");
    }
    chunks.push(value);
  }
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, "error parsing JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, "error parsing JSON");
  }
  return parsed as Record<string, unknown>;
}

function wrapHeader(value: string | null): number {
  if (value === null || value === "") return 0;
  let ttl: number;
  try {
    ttl = parseTtlSeconds(value);
  } catch {
    throw new HttpError(400, "error parsing wrap TTL");
  }
  if (ttl < 0) throw new HttpError(400, "requested wrap ttl cannot be negative");
  return ttl;
}

export interface DevServerOptions {
  hostname: string;
  port: number;
  rootToken?: string;
  /** PEM certificate chain and key: serve HTTPS instead of plain HTTP. */
  cert?: string;
  key?: string;
  signal?: AbortSignal;
}

export interface DevServer {
  /** Base address, e.g. `https://127.0.0.1:8200`. */
  addr: string;
  rootToken: string;
  vault: DevVault;
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** Start the development server; it listens when this resolves. */
export function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const vault = new DevVault(opts.rootToken);
  const tls = opts.cert !== undefined && opts.key !== undefined;
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    ...(tls ? { cert: opts.cert!, key: opts.key! } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onListen: () => {},
    onError: () => json(500, { errors: ["1 error occurred:\n\t* internal error\n\n"] }),
  }, (req) => vault.handle(req));
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return Promise.resolve({
    addr: `${tls ? "https" : "http"}://${host}:${addr.port}`,
    rootToken: vault.rootToken,
    vault,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  });
}
