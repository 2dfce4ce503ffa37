/**
 * The permission flags a build gets: the shipped set (src/util/permissions.ts,
 * deno.json) with the hosts of the given site profiles added to `net`.
 * Prints them one a line:
 *
 *   deno run -q scripts/permissions.ts                      # loopback only, as shipped
 *   deno run -q -P=build scripts/permissions.ts --site mysite --net vault.internal:8200
 *
 * `--site NAME|FILE` (repeatable) adds what the profile names: the login,
 * transfer and jump hosts with their ports and the Vault host and port.
 * `--net HOST[:PORT]` or `--net unix:PATH` adds one more target (a node's
 * own Vault address, an ssh-agent socket with a fixed path).
 */
import { allowed, permissionFlags, shippedPermissions } from "../src/util/permissions.ts";
import type { SiteProfile } from "../src/config/site.ts";
import { q, reason, SealbatchError, usageError } from "../src/util/errors.ts";
import { formatError } from "../src/cli/output.ts";

export interface NetOptions {
  sites: string[];
  nets: string[];
}

const NET_RE = /^unix:\/\S+$|^([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]+\])(:\d{1,5})?$/;

/** Take `--site X` and `--net X` (and a leading `--` from `deno task`) out of `args`. */
export function takeNetOptions(args: string[]): { options: NetOptions; rest: string[] } {
  const options: NetOptions = { sites: [], nets: [] };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--" && i === 0) continue;
    const eq = arg.match(/^(--site|--net)=(.*)$/);
    const [flag, value] = eq ? [eq[1]!, eq[2]] : [arg, args[i + 1]];
    if (flag !== "--site" && flag !== "--net") {
      rest.push(arg);
      continue;
    }
    if (!eq) i++;
    if (value === undefined || value === "") throw usageError(`${flag} needs a value`);
    if (flag === "--net" && !NET_RE.test(value)) {
      throw usageError(`invalid --net ${q(value)}: expected HOST, HOST:PORT or unix:/PATH`);
    }
    (flag === "--site" ? options.sites : options.nets).push(value);
  }
  return { options, rest };
}

function target(host: string, port: number): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

/** Every host:port a site profile makes sealbatch connect to. */
export function siteTargets(profile: SiteProfile): string[] {
  const { login, transfer, jump } = profile.ssh;
  const vault = new URL(profile.vault.addr);
  const vaultPort = Number(vault.port || (vault.protocol === "https:" ? 443 : 80));
  return [
    target(login.host, login.port),
    target(transfer.host, transfer.port),
    ...(jump ? [target(jump.host, jump.port)] : []),
    target(vault.hostname, vaultPort),
  ];
}

/** The shipped network list plus what the options name, without repeats. */
export async function netList(options: NetOptions): Promise<string[]> {
  const shipped = allowed(shippedPermissions().net);
  if (!Array.isArray(shipped)) {
    throw new Error("permissions.sealbatch.net must be a list of hosts (never all hosts)");
  }
  const fromSites: string[] = [];
  if (options.sites.length > 0) {
    // Loaded only for --site: the YAML parser is an npm package, and a plain build must not
    // need the npm cache (the build also runs offline with an empty DENO_DIR).
    const { loadSiteProfile } = await import("../src/config/site.ts");
    const { sitePath } = await import("../src/config/site_path.ts");
    for (const site of options.sites) {
      fromSites.push(...siteTargets(await loadSiteProfile(sitePath(site))));
    }
  }
  // A host the list already allows on every port needs no host:port entry.
  const added = [...fromSites, ...options.nets].filter((t) =>
    !shipped.includes(t.replace(/:\d+$/, ""))
  );
  return [...new Set([...shipped, ...added])];
}

/** The flags of a build for these options. */
export async function buildFlags(options: NetOptions): Promise<string[]> {
  return permissionFlags(shippedPermissions(), { net: await netList(options) });
}

if (import.meta.main) {
  try {
    const { options, rest } = takeNetOptions(Deno.args);
    if (rest.length > 0) {
      throw usageError(
        `unexpected ${q(rest[0])}: usage: scripts/permissions.ts [--site NAME|FILE]... ` +
          "[--net HOST[:PORT]|unix:PATH]...",
      );
    }
    console.log((await buildFlags(options)).join("\n"));
  } catch (err) {
    const e = err instanceof SealbatchError ? err : new SealbatchError("input", reason(err));
    console.error(formatError(e));
    Deno.exit(e.exitCode);
  }
}
