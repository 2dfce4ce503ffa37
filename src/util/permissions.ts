/**
 * The one place the shipped permission list comes from: `permissions.sealbatch`
 * in deno.json. `deno run -P=sealbatch` reads it directly; the compiled binary,
 * the bundle, `selfCommand()` (sealbatch starting itself) and the tests that
 * run the bundle get the same list as explicit `--allow-*`/`--deny-*` flags
 * from here. A build for a site adds that site's hosts to `net`
 * (scripts/permissions.ts); nothing else differs between builds.
 */
import denoJson from "../../deno.json" with { type: "json" };
import { reason, SealbatchError } from "./errors.ts";

/** A permission as deno.json states it: all (true), none (false/absent) or a list. */
export type Grant = boolean | string[];

/** deno.json's object form: what is allowed, and what is denied even so (deny wins). */
export interface Scoped {
  allow?: Grant;
  deny?: string[];
}

export interface PermissionSet {
  read?: Grant | Scoped;
  write?: Grant | Scoped;
  net?: Grant | Scoped;
  env?: Grant | Scoped;
  sys?: Grant | Scoped;
  run?: Grant | Scoped;
  ffi?: Grant | Scoped;
  import?: Grant | Scoped;
}

const KINDS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;
type Kind = (typeof KINDS)[number];

/** The shipped set, checked: only known kinds, only booleans or lists of plain names. */
export function shippedPermissions(): PermissionSet {
  return checkSet(denoJson.permissions.sealbatch as Record<string, unknown>);
}

function isNames(value: unknown): value is string[] {
  return Array.isArray(value) &&
    value.every((v) => typeof v === "string" && v !== "" && !v.includes(","));
}

function checkSet(raw: Record<string, unknown>): PermissionSet {
  const set: PermissionSet = {};
  for (const [kind, value] of Object.entries(raw)) {
    if (!(KINDS as readonly string[]).includes(kind)) {
      throw new Error(`permissions.sealbatch: unsupported entry "${kind}" (never "all")`);
    }
    const bad = () =>
      new Error(
        `permissions.sealbatch.${kind}: expected true, false, a list of names without commas, ` +
          `or { "allow": ..., "deny": [...] }`,
      );
    if (typeof value === "boolean" || isNames(value)) {
      set[kind as Kind] = value;
    } else if (typeof value === "object" && value !== null) {
      const { allow, deny, ...rest } = value as Record<string, unknown>;
      if (Object.keys(rest).length > 0) throw bad();
      if (allow !== undefined && typeof allow !== "boolean" && !isNames(allow)) throw bad();
      if (deny !== undefined && !isNames(deny)) throw bad();
      set[kind as Kind] = {
        ...(allow !== undefined ? { allow } : {}),
        ...(deny !== undefined ? { deny } : {}),
      };
    } else {
      throw bad();
    }
  }
  return set;
}

/** The allowed part of an entry. */
export function allowed(entry: Grant | Scoped | undefined): Grant {
  if (entry === undefined) return false;
  return typeof entry === "boolean" || Array.isArray(entry) ? entry : entry.allow ?? false;
}

/** The denied part of an entry. */
export function denied(entry: Grant | Scoped | undefined): string[] {
  return entry === undefined || typeof entry === "boolean" || Array.isArray(entry)
    ? []
    : entry.deny ?? [];
}

/**
 * `--allow-*` and `--deny-*` flags for a set. `overrides` replaces what a kind
 * allows and keeps what it denies: the build adds a site's hosts to `net` this
 * way, the tests narrow reads and writes to a few directories. Always
 * `--no-prompt`: a missing permission must fail, not wait for an answer.
 */
export function permissionFlags(
  set: PermissionSet = shippedPermissions(),
  overrides: PermissionSet = {},
): string[] {
  const flags: string[] = [];
  for (const kind of KINDS) {
    const grant = kind in overrides ? allowed(overrides[kind]) : allowed(set[kind]);
    if (grant === true) flags.push(`--allow-${kind}`);
    else if (Array.isArray(grant) && grant.length > 0) {
      flags.push(`--allow-${kind}=${grant.join(",")}`);
    }
    const deny = [...new Set([...denied(set[kind]), ...denied(overrides[kind])])];
    if (deny.length > 0) flags.push(`--deny-${kind}=${deny.join(",")}`);
  }
  flags.push("--no-prompt");
  return flags;
}

/** Deno's spelling of a network target: IPv6 addresses in brackets. */
function netTarget(host: string, port: number): string {
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `${h}:${port}`;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false; // a target Deno cannot even parse is not on the list either
  }
}

const BUILD_HINT = "build sealbatch for this site: deno task compile -- --site NAME|FILE " +
  "(adds the hosts the site profile names; docs/build.md)";

/**
 * Stop before the first packet when `host:port` is not on this build's
 * network list: one clean permission error naming the host, instead of
 * whatever the connecting library makes of Deno's refusal.
 */
export function requireNet(host: string, port: number, what: string): void {
  const target = netTarget(host, port);
  if (granted({ name: "net", host: target })) return;
  throw new SealbatchError(
    "permission",
    `permission denied: ${what} ${target} is not on this sealbatch's network list`,
    { hint: BUILD_HINT },
  );
}

/** The same for a Unix socket (Deno grants them one exact path at a time: `unix:PATH`). */
export function requireUnixSocket(path: string, what: string): void {
  if (granted({ name: "net", host: `unix:${path}` })) return;
  throw new SealbatchError(
    "permission",
    `permission denied: ${what} socket ${JSON.stringify(path)} is not on this sealbatch's ` +
      "network list",
    {
      hint: `give an identity file (ssh.identity, --identity), or build with ` +
        `'deno task compile -- --net unix:${path}' for an agent socket that keeps its path`,
    },
  );
}

const PERMISSION_HINT =
  "sealbatch runs with a fixed permission list; this path, host or program is outside it";
/** Deno's wording of a refusal, and its advice, which does not apply to a fixed list. */
const DENO_REFUSAL = /Requires \w+ access to .*, run again with the --allow-\w+ flag/;
const RUN_AGAIN = /, run again with the --allow-\w+ flag/g;

function refusal(message: string): SealbatchError {
  return new SealbatchError("permission", `permission denied: ${message.replace(RUN_AGAIN, "")}`, {
    hint: PERMISSION_HINT,
  });
}

/**
 * A refusal by Deno as the one permission error users see (exit 10), also
 * when a step already wrapped it into an error of its own ("cannot read
 * image ...: Requires read access to ..."); undefined for anything else.
 */
export function permissionError(err: unknown): SealbatchError | undefined {
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return refusal(reason(err));
  }
  if (
    err instanceof SealbatchError && err.kind !== "permission" && DENO_REFUSAL.test(err.message)
  ) {
    return refusal(err.message);
  }
  return undefined;
}
