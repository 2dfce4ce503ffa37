/**
 * Every invocation, `--version` included, evaluates what main.ts imports
 * statically. The commands' heavy packages must come in only through the
 * `await import(...)` in an action, so that a command loads its own modules only.
 */
import assert from "node:assert/strict";
import { ROOT } from "../_helpers/cli.ts";

const HEAVY = ["openpgp", "ssh2", "yaml", "fast-png"];

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
  isTypeOnly?: boolean;
}
interface GraphModule {
  specifier: string;
  dependencies?: Dependency[];
  npmPackage?: string;
}
interface Graph {
  roots: string[];
  modules: GraphModule[];
  redirects: Record<string, string>;
}

async function graph(): Promise<Graph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${ROOT}/main.ts`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** npm package names reachable from main.ts, through static imports only or through any. */
function packagesReached(g: Graph, includeDynamic: boolean): Set<string> {
  const modules = new Map(g.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => {
    while (g.redirects[s] !== undefined) s = g.redirects[s]!;
    return s;
  };
  const packages = new Set<string>();
  const seen = new Set<string>();
  const stack = g.roots.map(resolve);
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    const m = modules.get(specifier);
    const npm = m?.npmPackage ?? (specifier.startsWith("npm:") ? specifier : undefined);
    if (npm !== undefined) {
      packages.add(npm.replace(/^npm:\/?/, "").replace(/(.)@.*$/, "$1"));
      continue;
    }
    for (const d of m?.dependencies ?? []) {
      if (d.code && !d.isTypeOnly && (includeDynamic || !d.isDynamic)) {
        stack.push(resolve(d.code.specifier));
      }
    }
  }
  return packages;
}

Deno.test("main.ts reaches openpgp, ssh2, yaml and fast-png only through a command's action", async () => {
  const g = await graph();
  const all = packagesReached(g, true);
  for (const name of HEAVY) assert.ok(all.has(name), `${name} is not used at all any more`);
  const eager = packagesReached(g, false);
  assert.deepEqual([...eager].sort(), ["@commander-js/extra-typings", "commander"]);
});
