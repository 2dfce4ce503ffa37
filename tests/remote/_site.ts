/**
 * The real local test site (scripts/test-site.sh: sshd + munge + Slurm) for
 * tests. Only root can start it; elsewhere tests skip with `SITE_SKIP`.
 */
import { ROOT } from "../_helpers/cli.ts";
import type { SiteConnection } from "../../src/remote/settings.ts";
import { defaultSlurmSettings, type SlurmSettings } from "../../src/slurm/slurm.ts";

export const SITE_SKIP: string | false = Deno.uid() === 0
  ? false
  : "the local test site (sshd, munge, Slurm) needs root to start";

export type SiteEnv = Record<string, string>;

const cached = new Map<number, Promise<SiteEnv>>();

/**
 * Bring the site up (idempotent, serialised by the script's lock) and read its env; with `nodes`
 * > 1 the checkout's multi-node site (SEALBATCH_SITE_NODES), a site of its own.
 */
export function siteEnv(nodes = 1): Promise<SiteEnv> {
  const known = cached.get(nodes);
  if (known) return known;
  const started = (async () => {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}/scripts/test-site.sh`, "up"],
      ...(nodes > 1 ? { env: { SEALBATCH_SITE_NODES: String(nodes) } } : {}),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`test-site.sh up failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
    const env: SiteEnv = {};
    for (const line of text.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
    }
    // Each site has its own Slurm: local Slurm commands of the tests (scontrol release) find it.
    // (A multi-node site's slurmctld is reachable only inside its namespaces: tests use SSH.)
    if (env.SITE_SLURM_CONF && nodes === 1) Deno.env.set("SLURM_CONF", env.SITE_SLURM_CONF);
    return env;
  })();
  cached.set(nodes, started);
  return started;
}

export function connection(env: SiteEnv, extra: Partial<SiteConnection> = {}): SiteConnection {
  return {
    login: { host: env.SITE_HOST!, port: Number(env.SITE_PORT), user: env.SITE_USER! },
    identity: env.SITE_IDENTITY!,
    knownHosts: env.SITE_KNOWN_HOSTS!,
    remoteDir: env.SITE_REMOTE_DIR!,
    ...extra,
  };
}

export function slurmSettings(extra: Partial<SlurmSettings> = {}): SlurmSettings {
  return { ...defaultSlurmSettings(), ...extra };
}

/** CLI flags that reach the site. */
export function siteFlags(env: SiteEnv): string[] {
  return [
    "--host",
    env.SITE_HOST!,
    "--port",
    env.SITE_PORT!,
    "--user",
    env.SITE_USER!,
    "--identity",
    env.SITE_IDENTITY!,
    "--known-hosts",
    env.SITE_KNOWN_HOSTS!,
    "--remote-dir",
    env.SITE_REMOTE_DIR!,
  ];
}

/** A unique remote scratch directory name for one test. */
export function scratchName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}
