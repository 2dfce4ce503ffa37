/**
 * The argv that starts this same sealbatch again, with the shipped
 * permissions: the local executor and the rendered job script run sealbatch
 * as a child, and it must be the very program (binary, bundle or checkout)
 * that is running now, never whatever `sealbatch` PATH happens to find.
 */
import { permissionFlags } from "./permissions.ts";

export interface SelfOptions {
  /** Default Deno.execPath(). */
  execPath?: string;
  /** Default Deno.mainModule. */
  mainModule?: string;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * A compiled binary is its own runtime: execPath is not a `deno` binary, and
 * its main module lives in the virtual `deno-compile-*` directory.
 */
function isCompiled(execPath: string, mainModule: string): boolean {
  const name = baseName(execPath);
  return (name !== "deno" && name !== "deno.exe") || /\/deno-compile-[^/]+\//.test(mainModule);
}

function configBeside(main: string): string | undefined {
  if (baseName(main) !== "main.ts") return undefined;
  const config = `${main.slice(0, main.lastIndexOf("/"))}/deno.json`;
  try {
    return Deno.statSync(config).isFile ? config : undefined;
  } catch {
    return undefined;
  }
}

export function selfCommand(opts: SelfOptions = {}): string[] {
  const execPath = opts.execPath ?? Deno.execPath();
  const mainModule = opts.mainModule ?? Deno.mainModule;
  if (isCompiled(execPath, mainModule)) return [execPath];
  const main = decodeURIComponent(new URL(mainModule).pathname);
  const config = configBeside(main);
  // A checkout needs its deno.json (import map); the bundle is self-contained
  // and must not pick up a deno.json from the directory it runs in.
  const configFlags = config === undefined ? ["--no-config"] : ["--config", config];
  return [execPath, "run", "-q", ...configFlags, ...permissionFlags(), main];
}
