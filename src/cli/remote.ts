/** `sealbatch remote ...`: the SSH side of a site; also the shared site flags of remote commands. */
import { Command } from "@commander-js/extra-typings";
import { defaultSite, siteProfilePath } from "../config/site_path.ts";
import { inputError, q, usageError } from "../util/errors.ts";
import { localUser } from "../util/user.ts";
import type { Endpoint, SiteConnection } from "../remote/settings.ts";
import { defaultSlurmSettings, type SlurmProgram, type SlurmSettings } from "../slurm/slurm.ts";
import { checkText, result } from "./output.ts";
import { passphraseSource } from "./passphrase.ts";

export interface SiteFlags {
  site?: string;
  host?: string;
  port?: string;
  user?: string;
  identity?: string;
  knownHosts?: string;
  hostKeyFingerprint?: string;
  acceptNew?: boolean;
  jump?: string;
  transfer?: string;
  remoteDir?: string;
  partition?: string;
  slurmBin?: string;
  via?: string;
}

/** The flags every command that talks to a site accepts. */
export function withSiteOptions<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  cmd
    .option(
      "--site <name|file>",
      "site profile (name in the config dir, or a YAML file; default: SEALBATCH_SITE or 'site use')",
    )
    .option("--host <host>", "login host")
    .option("--port <n>", "SSH port of the login host (default 22)")
    .option("--user <name>", "remote user (default: local user)")
    .option("--identity <file>", "SSH private key (default: ssh-agent)")
    .option("--known-hosts <file>", "OpenSSH known_hosts file (default ~/.ssh/known_hosts)")
    .option("--host-key-fingerprint <SHA256:...>", "pin the host key instead of known_hosts")
    .option("--accept-new", "add an unknown host's key to known_hosts (first use only)")
    .option("--jump <[user@]host[:port]>", "connect through this host (like ssh -J)")
    .option("--transfer <[user@]host[:port]>", "separate host for bulk transfers")
    .option("--remote-dir <path>", "remote base directory for jobs")
    .option("--partition <name>", "Slurm partition (default secure)")
    .option(
      "--slurm-bin <dir>",
      "directory of the Slurm programs on the site (e.g. /opt/slurm/bin)",
    )
    .option("--via <mover>", "bytes over: auto (OpenSSH when it works), openssh or sftp (ssh2)");
  return cmd;
}

function endpoint(spec: string, defUser: string, flag: string): Endpoint {
  const m = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/.exec(spec);
  if (!m) throw usageError(`${flag}: expected [user@]host[:port], got ${q(spec)}`);
  return { user: m[1] ?? defUser, host: m[2]!, port: m[3] ? Number(m[3]) : 22 };
}

/** Build the typed settings from a profile (if given) and flags (which win). */
export async function resolveSite(
  flags: SiteFlags,
): Promise<{ site: SiteConnection; slurm: SlurmSettings; nodeCommand?: string }> {
  if (flags.hostKeyFingerprint && flags.acceptNew) {
    throw usageError("--host-key-fingerprint and --accept-new exclude each other");
  }
  if (flags.via && !["auto", "openssh", "sftp"].includes(flags.via)) {
    throw usageError(`--via: expected auto, openssh or sftp, got ${q(flags.via)}`);
  }
  const { loadSiteProfile } = await import("../config/site.ts");
  // --host alone describes a site without a profile; otherwise the default site applies.
  const named = flags.site ?? (flags.host ? undefined : (await defaultSite())?.site);
  const profile = named ? await loadSiteProfile(await siteProfilePath(named)) : undefined;
  const user = flags.user ?? profile?.ssh.user ?? localUser();
  const host = flags.host ?? profile?.ssh.login.host;
  if (!host) {
    throw usageError("no site given: use --site NAME or --host HOST", {
      hint: "or set a default: sealbatch site use NAME (or SEALBATCH_SITE=NAME)",
    });
  }
  const port = flags.port !== undefined
    ? Number(flags.port)
    : (flags.host ? 22 : profile?.ssh.login.port ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`--port: expected 1-65535, got ${q(flags.port)}`);
  }
  const remoteDir = flags.remoteDir ?? profile?.remote.baseDir;
  if (!remoteDir) {
    throw usageError(
      "no remote directory: give --remote-dir PATH (or remote.base_dir in the site profile)",
    );
  }
  const login: Endpoint = { host, port, user: profile?.ssh.login.user ?? user };
  if (flags.user) login.user = flags.user;
  const pt = profile?.ssh.transfer;
  const transfer = flags.transfer
    ? endpoint(flags.transfer, user, "--transfer")
    : pt && !flags.host
    ? { host: pt.host, port: pt.port, user: pt.user ?? user }
    : undefined;
  const pj = profile?.ssh.jump;
  const jump = flags.jump
    ? endpoint(flags.jump, user, "--jump")
    : pj
    ? { host: pj.host, port: pj.port, user: pj.user ?? user }
    : undefined;
  const identity = flags.identity ?? profile?.ssh.identity;
  const knownHosts = flags.knownHosts ?? profile?.ssh.knownHosts;
  const fingerprint = flags.hostKeyFingerprint ??
    (flags.acceptNew ? undefined : profile?.ssh.hostKeyFingerprint);
  if (fingerprint && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(fingerprint)) {
    throw inputError(
      `invalid host key fingerprint ${
        q(fingerprint)
      }: expected SHA256:... as printed by ssh-keygen -lf`,
    );
  }
  const ask = passphraseSource(undefined);
  const site: SiteConnection = {
    login,
    ...(transfer ? { transfer } : {}),
    ...(jump ? { jump } : {}),
    ...(identity ? { identity, passphrase: () => ask(`SSH identity ${identity}`) } : {}),
    ...(knownHosts ? { knownHosts } : {}),
    ...(fingerprint ? { hostKeyFingerprint: fingerprint } : {}),
    ...(flags.acceptNew ? { acceptNew: true } : {}),
    remoteDir,
    bulk: (flags.via ?? "auto") as "auto" | "openssh" | "sftp",
  };
  const slurm = defaultSlurmSettings();
  if (profile) {
    slurm.partition = profile.slurm.partition;
    slurm.exclusive = profile.slurm.exclusive;
    slurm.programs = { ...profile.slurm.programs };
    slurm.resources = profile.slurm.defaults;
  }
  if (flags.partition) slurm.partition = flags.partition;
  if (flags.slurmBin) {
    const bin = flags.slurmBin.replace(/\/+$/, "");
    for (const p of ["sbatch", "squeue", "sacct", "scancel", "scontrol"] as SlurmProgram[]) {
      slurm.programs[p] = `${bin}/${p}`;
    }
  }
  const nodeCommand = profile?.node.command[0];
  return { site, slurm, ...(nodeCommand ? { nodeCommand } : {}) };
}

export function remoteCommand(): Command {
  const check = withSiteOptions(
    new Command("check")
      .description(
        "check a site, read-only: host key, login, sbatch, the partition, the remote directory\n" +
          "(writable, free space), the node command (with a profile); the checks of 'site check'",
      )
      .addHelpText(
        "after",
        "\nExamples:\n  sealbatch remote check --site mysite\n" +
          "  sealbatch remote check --host login.hpc.example.org --user alice --identity ~/.ssh/id_ed25519 \\\n" +
          "    --remote-dir /scratch/alice/sealbatch --partition secure",
      ),
  ).action(async (opts) => {
    const { site, slurm, nodeCommand } = await resolveSite(opts as SiteFlags);
    const { checkSite, checksFailed } = await import("../remote/check.ts");
    const lines = await checkSite(site, { slurm, ...(nodeCommand ? { nodeCommand } : {}) });
    result(checkText(lines), {
      ok: lines.every((l) => l.ok),
      checks: lines,
    });
    const failed = checksFailed(lines, "remote check");
    if (failed) throw failed;
  });
  return new Command("remote").description("reach an HPC site over SSH")
    .addHelpText("after", "\nExamples:\n  sealbatch remote check --site mysite")
    .addCommand(check);
}
