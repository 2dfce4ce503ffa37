/**
 * Builds the shipped artifacts from main.ts with the permission flags of
 * src/util/permissions.ts (never --allow-all):
 *
 *   deno task compile   -> dist/sealbatch     (deno compile; needs Deno's denort runtime)
 *   deno task bundle    -> dist/sealbatch.js  (deno bundle; one file, same module graph)
 *                          + dist/sealbatch.js.flags (the flags to run it with)
 *
 * The network list is loopback only unless `--site NAME|FILE` (repeatable) adds
 * the hosts a site profile names, or `--net HOST[:PORT]` one more target
 * (scripts/permissions.ts): `deno task compile -- --site mysite`.
 *
 * `deno compile` downloads denort from Deno's release server. Where that server
 * cannot be reached, DENORT_BIN=/path/to/denort supplies a local copy; without
 * either, the build stops at once with a message instead of failing late.
 * Each artifact is built under a temporary name, run once (`--version`), and
 * only then renamed into place, so a broken build never replaces a good one.
 */
import denoJson from "../deno.json" with { type: "json" };
import { exec } from "../src/util/exec.ts";
import { reason, SealbatchError } from "../src/util/errors.ts";
import { formatError } from "../src/cli/output.ts";
import { buildFlags, type NetOptions, takeNetOptions } from "./permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
/** How long the release server gets to answer before we call it unreachable. */
const PROBE_MS = 5000;

function env(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Deno fetches esbuild (bundle) and npm packages itself; behind a site's TLS proxy it needs
 * the same trust and proxy settings as this process, which exec() does not pass by default.
 */
const NETWORK_ENV = [
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "NODE_EXTRA_CA_CERTS",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
];

function networkEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of NETWORK_ENV) {
    const value = env(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function buildError(message: string, hint?: string): SealbatchError {
  return new SealbatchError("tool", message, hint === undefined ? {} : { hint });
}

function denortName(): string {
  return `denort-${Deno.build.target}.zip`;
}

/** Where `deno compile` keeps a downloaded denort (DENO_DIR/dl/release/vX/...). */
function cachedDenort(): string {
  const denoDir = env("DENO_DIR") ??
    `${env("XDG_CACHE_HOME") ?? `${env("HOME") ?? "/root"}/.cache`}/deno`;
  return `${denoDir}/dl/release/v${Deno.version.deno}/${denortName()}`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Where denort comes from, decided before any work, or a clear stop. */
async function denortSource(): Promise<{ env: Record<string, string>; from: string }> {
  const given = env("DENORT_BIN");
  if (given !== undefined) {
    const info = await Deno.stat(given).catch(() => undefined);
    if (!info?.isFile || ((info.mode ?? 0) & 0o111) === 0) {
      throw buildError(`cannot use DENORT_BIN=${JSON.stringify(given)}: not an executable file`);
    }
    return { env: { DENORT_BIN: given }, from: `DENORT_BIN (${given})` };
  }
  const denoDir = env("DENO_DIR");
  const passDir: Record<string, string> = denoDir === undefined ? {} : { DENO_DIR: denoDir };
  if (await isFile(cachedDenort())) return { env: passDir, from: `the Deno cache` };
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/${denortName()}`;
  try {
    const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(PROBE_MS) });
    await res.body?.cancel();
    if (res.ok) return { env: passDir, from: "a download" };
    throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw buildError(
      `cannot build dist/sealbatch: deno compile needs the denort runtime of Deno ` +
        `${Deno.version.deno}, which is not in the Deno cache and cannot be downloaded here ` +
        `(${reason(err)})`,
      `set DENORT_BIN=/path/to/denort (Deno ${Deno.version.deno}, ${Deno.build.target}); ` +
        "'deno task bundle' builds the single-file bundle without it",
    );
  }
}

/**
 * Run a freshly built artifact: its version must be ours, and its deny list in
 * force (a read of /etc/shadow is refused with exit 10, whether the file exists or not).
 */
async function smokeTest(command: string, args: string[], what: string): Promise<void> {
  const r = await exec(command, [...args, "--version"], { what: `cannot run the new ${what}` });
  // "0.1.0 (commit ..., built ...; Deno ...)": the version is the first word.
  if (r.text.trim().split(" ")[0] !== denoJson.version) {
    throw buildError(
      `the new ${what} does not work: '--version' printed ${JSON.stringify(r.text.trim())}`,
      what === "binary" ? "DENORT_BIN must be the denort runtime, not the deno CLI" : undefined,
    );
  }
  const probe = await exec(command, [...args, "image", "inspect", "/etc/shadow"], {
    what: `cannot run the new ${what}`,
    okCodes: Array.from({ length: 16 }, (_, i) => i),
  });
  if (probe.code !== 10) {
    throw buildError(
      `the new ${what} does not apply the permission list: reading /etc/shadow ended with ` +
        `exit code ${probe.code}, not 10`,
    );
  }
}

async function place(tmp: string, final: string, what: string): Promise<void> {
  await Deno.rename(tmp, final);
  const size = (await Deno.stat(final)).size;
  console.log(`built ${final}: ${(size / 1048576).toFixed(1)} MiB (${what})`);
}

/** What a build may connect to, for the build's own report line. */
function netOf(flags: string[]): string {
  const net = flags.find((f) => f.startsWith("--allow-net"));
  return `network: ${net?.split("=")[1]?.replaceAll(",", ", ") ?? (net ? "all" : "none")}`;
}

async function compile(dist: string, flags: string[], config: string): Promise<void> {
  const source = await denortSource();
  const tmp = `${dist}/.sealbatch.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await exec(DENO, [
      "compile",
      "-q",
      "--config",
      config,
      ...flags,
      "-o",
      tmp,
      `${ROOT}/main.ts`,
    ], { env: { ...networkEnv(), ...source.env }, what: "cannot compile sealbatch" });
    await smokeTest(tmp, [], "binary");
    await place(tmp, `${dist}/sealbatch`, `denort from ${source.from}; ${netOf(flags)}`);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

async function bundle(dist: string, flags: string[], config: string): Promise<void> {
  const tmp = `${dist}/.sealbatch.${crypto.randomUUID().slice(0, 8)}.js`;
  try {
    await exec(DENO, [
      "bundle",
      "-q",
      "--config",
      config,
      // ssh2 optionally requires native addons; the pure-JS fallbacks are used instead.
      "--external",
      "*.node",
      "-o",
      tmp,
      `${ROOT}/main.ts`,
    ], { env: networkEnv(), what: "cannot bundle sealbatch" });
    await smokeTest(DENO, ["run", "-q", "--no-config", ...flags, tmp], "bundle");
    // The bundle carries no permissions of its own: the flags it was built for lie beside it.
    await Deno.writeTextFile(`${dist}/sealbatch.js.flags`, flags.join("\n") + "\n");
    await place(
      tmp,
      `${dist}/sealbatch.js`,
      `run it with the flags in ${dist}/sealbatch.js.flags; ${netOf(flags)}`,
    );
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

const TARGETS: Record<
  string,
  (dist: string, flags: string[], config: string) => Promise<void>
> = {
  compile,
  bundle,
};

const USAGE = "usage: scripts/build.ts compile|bundle [--dist DIR] [--site NAME|FILE]... " +
  "[--net HOST[:PORT]|unix:PATH]...   (default DIR: dist/)";

function parseArgs(args: string[]): { target: string; dist: string; net: NetOptions } {
  const { options, rest } = takeNetOptions(args.slice(1));
  const [flag, dir] = rest;
  if (!(rest.length === 0 || (rest.length === 2 && flag === "--dist" && dir))) {
    throw new SealbatchError("usage", `unexpected arguments: ${rest.join(" ")}`, { hint: USAGE });
  }
  return { target: args[0] ?? "", dist: dir ?? "dist", net: options };
}

/**
 * The commit and date go into the artifact (`--version`) without touching the source tree (tests
 * and other builds read it meanwhile): the build's config maps src/cli/build_info.json to a
 * stamped copy in `dist`. Returns that config.
 */
async function withBuildInfo(dist: string, fn: (config: string) => Promise<void>): Promise<void> {
  const head = await exec("git", ["-C", ROOT, "rev-parse", "HEAD"], { what: "no git commit" })
    .then((r) => r.text.trim(), () => null);
  const date = new Date().toISOString().slice(0, 10);
  const id = crypto.randomUUID().slice(0, 8);
  const stamp = `${Deno.realPathSync(dist)}/.build_info.${id}.json`;
  const config = `${Deno.realPathSync(dist)}/.deno.${id}.json`;
  const source = new URL("../src/cli/build_info.json", import.meta.url).href;
  await Deno.writeTextFile(stamp, JSON.stringify({ commit: head, date }) + "\n");
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      ...denoJson,
      lock: `${ROOT}/deno.lock`,
      imports: { ...denoJson.imports, [source]: new URL(`file://${stamp}`).href },
    }),
  );
  try {
    await fn(config);
  } finally {
    await Deno.remove(stamp).catch(() => {});
    await Deno.remove(config).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    const { target, dist, net } = parseArgs(Deno.args);
    const build = TARGETS[target];
    if (build === undefined) throw new SealbatchError("usage", USAGE);
    const flags = await buildFlags(net);
    await Deno.mkdir(dist, { recursive: true });
    await withBuildInfo(dist, (config) => build(dist, flags, config));
  } catch (err) {
    const e = err instanceof SealbatchError ? err : buildError(reason(err));
    console.error(formatError(e));
    Deno.exit(e.exitCode);
  }
}
