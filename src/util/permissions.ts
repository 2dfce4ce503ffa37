/**
 * The one place the shipped permission list comes from: `permissions.sealbatch`
 * in deno.json. `deno run -P=sealbatch` reads it directly; the compiled binary,
 * the bundle, `selfCommand()` (sealbatch starting itself) and the tests that
 * run the bundle get the same list as explicit `--allow-*` flags from here.
 */
import denoJson from "../../deno.json" with { type: "json" };

/** A permission as deno.json states it: all (true), none (false/absent) or a list. */
export type Grant = boolean | string[];

export interface PermissionSet {
  read?: Grant;
  write?: Grant;
  net?: Grant;
  env?: Grant;
  sys?: Grant;
  run?: Grant;
  ffi?: Grant;
  import?: Grant;
}

const KINDS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;

/** The shipped set, checked: only known kinds, only booleans or lists of plain names. */
export function shippedPermissions(): PermissionSet {
  return checkSet(denoJson.permissions.sealbatch as Record<string, unknown>);
}

function checkSet(raw: Record<string, unknown>): PermissionSet {
  const set: PermissionSet = {};
  for (const [kind, value] of Object.entries(raw)) {
    if (!(KINDS as readonly string[]).includes(kind)) {
      throw new Error(`permissions.sealbatch: unsupported entry "${kind}" (never "all")`);
    }
    if (typeof value === "boolean") {
      set[kind as (typeof KINDS)[number]] = value;
    } else if (
      Array.isArray(value) &&
      value.every((v) => typeof v === "string" && v !== "" && !v.includes(","))
    ) {
      set[kind as (typeof KINDS)[number]] = value as string[];
    } else {
      throw new Error(
        `permissions.sealbatch.${kind}: expected true, false or a list of names without commas`,
      );
    }
  }
  return set;
}

/**
 * `--allow-*` flags for a set; `overrides` replaces single kinds (the tests use
 * this to narrow reads and writes to a few directories). Always `--no-prompt`:
 * a missing permission must fail, not wait for an answer.
 */
export function permissionFlags(
  set: PermissionSet = shippedPermissions(),
  overrides: PermissionSet = {},
): string[] {
  const merged: PermissionSet = { ...set, ...overrides };
  const flags: string[] = [];
  for (const kind of KINDS) {
    const grant = merged[kind];
    if (grant === true) flags.push(`--allow-${kind}`);
    else if (Array.isArray(grant) && grant.length > 0) {
      flags.push(`--allow-${kind}=${grant.join(",")}`);
    }
  }
  flags.push("--no-prompt");
  return flags;
}
