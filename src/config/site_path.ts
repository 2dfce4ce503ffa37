import { inputError, q, SealbatchError, usageError } from "../util/errors.ts";
import { closest } from "../util/suggest.ts";
import { NAME_RE } from "../util/user.ts";

/** $XDG_CONFIG_HOME/sealbatch/sites (default ~/.config/sealbatch/sites). */
export function sitesDir(): string {
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/sealbatch/sites`;
  if (home) return `${home}/.config/sealbatch/sites`;
  throw inputError(
    "cannot find the sealbatch config directory: neither XDG_CONFIG_HOME nor HOME is set",
  );
}

/** A site is named (looked up in the config dir) or given as a path to a YAML file. */
export function sitePath(nameOrPath: string): string {
  if (nameOrPath.includes("/") || nameOrPath.endsWith(".yaml") || nameOrPath.endsWith(".yml")) {
    return nameOrPath;
  }
  if (!NAME_RE.test(nameOrPath)) throw inputError(`invalid site name ${q(nameOrPath)}`);
  return `${sitesDir()}/${nameOrPath}.yaml`;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Where `site use NAME` records the default site: beside the sites directory. */
export function defaultSiteFile(): string {
  return `${sitesDir().replace(/\/sites$/, "")}/default-site`;
}

/** The default site: $SEALBATCH_SITE, else what `site use` recorded, else none. */
export async function defaultSite(): Promise<{ site: string; from: string } | undefined> {
  const fromEnv = env("SEALBATCH_SITE");
  if (fromEnv) return { site: fromEnv, from: "SEALBATCH_SITE" };
  try {
    const text = (await Deno.readTextFile(defaultSiteFile())).trim();
    if (text) return { site: text, from: defaultSiteFile() };
  } catch {
    // none recorded
  }
  return undefined;
}

/** The profiles in the sites directory, by name. */
export async function siteNames(): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(sitesDir())) {
      const m = /^(.+)\.ya?ml$/.exec(e.name);
      if (e.isFile && m && NAME_RE.test(m[1]!)) names.push(m[1]!);
    }
  } catch {
    // no sites yet
  }
  return names.sort();
}

/**
 * The profile file of `--site` (or the default site when it is not given): a
 * name that has no profile is refused with the closest name there is.
 */
export async function siteProfilePath(given: string | undefined): Promise<string> {
  const chosen = given ?? (await defaultSite())?.site;
  if (chosen === undefined) {
    throw usageError("no site given: use --site NAME or --site FILE", {
      hint: "or set a default: sealbatch site use NAME (or SEALBATCH_SITE=NAME)",
    });
  }
  const path = sitePath(chosen);
  if (path === chosen) return path;
  try {
    await Deno.stat(path);
    return path;
  } catch {
    const names = await siteNames();
    const near = closest(chosen, names);
    throw inputError(
      `no site ${q(chosen)}: ${q(path)} does not exist${near ? `; did you mean ${q(near)}?` : ""}`,
      {
        hint: names.length > 0
          ? `known sites: ${names.join(", ")} (sealbatch site list)`
          : `create one: sealbatch site init ${chosen}`,
      },
    );
  }
}

/** How to build a sealbatch that may reach a profile's hosts (its network list is fixed). */
export function buildHint(profile: { path: string }): string {
  return `this sealbatch may not reach the site's hosts: build it for the site with ` +
    `'deno task compile -- --site ${profile.path}' (docs/build.md)`;
}

/** A permission refusal of a host, retold with the build that would reach it. */
export function forSiteBuild(err: unknown, profile: { path: string }): unknown {
  if (
    err instanceof SealbatchError && err.kind === "permission" && /network list/.test(err.message)
  ) {
    return new SealbatchError("permission", err.message, { hint: buildHint(profile) });
  }
  return err;
}
