import { inputError, q } from "../util/errors.ts";
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
