/**
 * The Backend of a real site: one SSH session (ssh2) for every command and
 * one transfer channel for bytes, opened once per `sealbatch run` and shared
 * by all jobs of a cohort. Uploads are verified on the remote side by size
 * and SHA-256; a file whose remote copy already matches is not sent again.
 */
import type { SiteProfile, SlurmResources } from "../config/site.ts";
import type { CheckLine } from "../remote/check.ts";
import { RemoteSite } from "../remote/connection.ts";
import { fingerprintOf } from "../remote/known_hosts.ts";
import { joinRemote, remotePath, sh } from "../remote/quote.ts";
import { endpointLabel, type SiteConnection } from "../remote/settings.ts";
import { Transfers } from "../remote/transfer.ts";
import { type Shell, sshShell } from "../slurm/shell.ts";
import {
  cancel,
  findProgram,
  type JobResult,
  partitionNodes,
  type SlurmSettings,
  submitMany,
  type SubmitRequest,
} from "../slurm/slurm.ts";
import { JobWatcher } from "../slurm/watch.ts";
import { Batcher } from "../util/batcher.ts";
import type { Backend, UploadResult } from "./backend.ts";
import { Buffer } from "node:buffer";

/** The SSH settings and Slurm settings a profile describes. */
export function profileSettings(
  profile: SiteProfile,
  opts: { passphrase?: () => Promise<string> } = {},
): { connection: SiteConnection; slurm: SlurmSettings } {
  const user = profile.ssh.user;
  const endpoint = (h: { host: string; port: number; user?: string }) => ({
    host: h.host,
    port: h.port,
    user: h.user ?? user,
  });
  const connection: SiteConnection = {
    login: endpoint(profile.ssh.login),
    transfer: endpoint(profile.ssh.transfer),
    ...(profile.ssh.jump ? { jump: endpoint(profile.ssh.jump) } : {}),
    ...(profile.ssh.identity ? { identity: profile.ssh.identity } : {}),
    ...(profile.ssh.knownHosts ? { knownHosts: profile.ssh.knownHosts } : {}),
    ...(profile.ssh.hostKeyFingerprint
      ? { hostKeyFingerprint: profile.ssh.hostKeyFingerprint }
      : {}),
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
    remoteDir: profile.remote.baseDir,
  };
  const slurm: SlurmSettings = {
    partition: profile.slurm.partition,
    exclusive: profile.slurm.exclusive,
    programs: { ...profile.slurm.programs },
    resources: profile.slurm.defaults,
  };
  return { connection, slurm };
}

export class SiteBackend implements Backend {
  readonly label: string;
  readonly slurm: SlurmSettings;
  readonly protects: Backend["protects"];
  readonly #profile: SiteProfile;
  readonly #site: RemoteSite;
  readonly #shell: Shell;
  #watcher: JobWatcher | undefined;
  /** Submissions handed in while one runs share the next remote command. */
  #submits = new Batcher<SubmitRequest, string>((requests) => submitMany(this.#shell, requests));
  #transfers: Promise<Transfers> | undefined;

  private constructor(profile: SiteProfile, site: RemoteSite, slurm: SlurmSettings) {
    this.#profile = profile;
    this.#site = site;
    this.#shell = sshShell(site.login);
    this.slurm = slurm;
    this.label = `${profile.name} (${endpointLabel(site.settings.login)})`;
    this.protects = {
      upload: "SSH, host key checked; each file verified by size and SHA-256 on the site",
      submit: `sbatch -p ${slurm.partition}${slurm.exclusive ? " --exclusive" : ""}`,
      wait: "the Slurm log carries progress lines only",
      fetch: "SSH, host key checked; verified by size and SHA-256",
    };
  }

  static async connect(
    profile: SiteProfile,
    opts: { passphrase?: () => Promise<string> } = {},
  ): Promise<SiteBackend> {
    const { connection, slurm } = profileSettings(profile, opts);
    return new SiteBackend(profile, await RemoteSite.connect(connection), slurm);
  }

  #bytes(): Promise<Transfers> {
    this.#transfers ??= Transfers.open(this.#site);
    return this.#transfers;
  }

  jobDir(job: string): string {
    return joinRemote(remotePath(this.#profile.remote.baseDir), "jobs", job);
  }

  /** Read-only checks: nothing is created or changed on the site. */
  async check(): Promise<string[]> {
    return (await this.checks()).map((c) =>
      `${c.ok ? "ok  " : "FAIL"} ${c.check}: ${c.detail}${!c.ok && c.hint ? ` (${c.hint})` : ""}`
    );
  }

  /** The same checks, structured (for `site check`). */
  async checks(): Promise<CheckLine[]> {
    const lines: CheckLine[] = [];
    const line = (ok: boolean, check: string, detail: string, hint?: string) =>
      lines.push({ check, ok, detail, ...(!ok && hint ? { hint } : {}) });
    for (const k of this.#site.login.accepted) {
      line(
        true,
        "host key",
        `${endpointLabel(k.endpoint)} ${k.keyType} ${
          fingerprintOf(Buffer.from(k.keyBase64, "base64"))
        }`,
      );
    }
    const who = await this.#site.login.exec("id -un");
    line(who.code === 0, "login", `logged in as ${who.stdout.trim() || "?"}`);
    const sbatch = await findProgram(this.#shell, this.slurm, "sbatch");
    line(
      sbatch !== undefined,
      "sbatch",
      sbatch ?? `${this.slurm.programs.sbatch ?? "sbatch"} not found on the login host`,
      "set slurm.programs in the site profile",
    );
    const nodes = await partitionNodes(this.#shell, this.slurm);
    const wanted = this.#profile.slurm.defaults.nodes ?? 1;
    const allowed = nodes === undefined
      ? 0
      : Math.min(nodes.total, nodes.max === "UNLIMITED" ? Infinity : nodes.max);
    line(
      nodes !== undefined && wanted <= allowed,
      "partition",
      nodes === undefined
        ? `${this.slurm.partition} not found`
        : `${this.slurm.partition} exists: ${nodes.total} node(s), at most ${nodes.max} per job` +
          (wanted > allowed ? `; the profile's ${wanted} nodes do not fit` : ""),
      nodes === undefined
        ? "ask the site for the secure partition's name"
        : "lower slurm.defaults.nodes, or ask the site for a larger secure partition",
    );
    // The base directory, or the nearest existing parent, must be writable.
    const base = this.#profile.remote.baseDir;
    const df = await this.#site.transfer.exec(
      `d=${sh(base)}; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done; ` +
        `[ -d "$d" ] && [ -w "$d" ] && df -Pk -- "$d" | tail -n 1`,
    );
    const free = Number(df.stdout.trim().split(/\s+/)[3] ?? NaN);
    const writable = df.code === 0 && Number.isFinite(free);
    line(
      writable,
      "remote directory",
      writable
        ? `${base} writable, ${(free / 1048576).toFixed(1)} GiB free`
        : `${base} is not writable`,
      "set remote.base_dir to a directory of the site user",
    );
    const node = this.#profile.node.command[0] ?? "sealbatch";
    const found = await this.#site.login.exec(`command -v ${sh(node)}`);
    line(
      found.code === 0,
      "node command",
      found.code === 0
        ? `${found.stdout.trim()} (on the login host)`
        : `${node} not found on the login host`,
      "the secure nodes need it; set node.command in the site profile",
    );
    return lines;
  }

  async upload(
    files: string[],
    remoteDir: string,
    onProgress?: (file: string, done: number, total: number) => void,
  ): Promise<UploadResult[]> {
    const transfers = await this.#bytes();
    const sent = await transfers.uploadMany(files.map((local) => ({ local, dir: remoteDir })), {
      ...(onProgress ? { onProgress: (p) => onProgress(p.file, p.done, p.total) } : {}),
    });
    return sent.map((r) => ({
      path: r.path,
      sha256: r.sha256,
      bytes: r.size,
      skipped: r.unchanged,
      resumedFrom: r.resumedFrom,
    }));
  }

  async download(remote: string, local: string): Promise<{ sha256: string; bytes: number }> {
    const r = await (await this.#bytes()).download(remote, local);
    return { sha256: r.sha256, bytes: r.size };
  }

  submit(jobDir: string, resources: SlurmResources, name: string): Promise<string> {
    const settings = { ...this.slurm, resources: { ...this.slurm.resources, ...resources } };
    return this.#submits.add({
      settings,
      script: joinRemote(jobDir, "run.sh"),
      opts: { cwd: jobDir, output: joinRemote(jobDir, "slurm-%j.out"), jobName: name },
    });
  }

  wait(id: string, onState?: (state: string) => void): Promise<JobResult> {
    // One watcher for every job of this backend: a cohort's jobs share its squeue queries.
    this.#watcher ??= new JobWatcher(this.#shell, this.slurm, { maxIntervalMs: 5000 });
    return this.#watcher.wait(id, {
      ...(onState ? { onState: (s) => onState(s.state) } : {}),
    });
  }

  cancel(id: string): Promise<void> {
    return cancel(this.#shell, this.slurm, id);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const t = this.#transfers;
    this.#transfers = undefined;
    if (t) await t.then((x) => x.close()).catch(() => {});
    this.#site.close();
  }
}
