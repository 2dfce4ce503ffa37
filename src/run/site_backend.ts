/**
 * The Backend of a real site: one SSH session (ssh2) for every command and
 * one transfer channel for bytes, opened once per `sealbatch run` and shared
 * by all jobs of a cohort. Uploads are verified on the remote side by size
 * and SHA-256; a file whose remote copy already matches is not sent again.
 */
import type { SiteProfile, SlurmResources } from "../config/site.ts";
import { type CheckLine, siteChecks } from "../remote/check.ts";
import { RemoteSite } from "../remote/connection.ts";
import { joinRemote, remotePath, sh } from "../remote/quote.ts";
import { endpointLabel, type SiteConnection } from "../remote/settings.ts";
import { Transfers } from "../remote/transfer.ts";
import { type Shell, sshShell } from "../slurm/shell.ts";
import {
  cancel,
  type JobResult,
  type SlurmSettings,
  submitMany,
  type SubmitRequest,
} from "../slurm/slurm.ts";
import { JobWatcher } from "../slurm/watch.ts";
import { Batcher } from "../util/batcher.ts";
import type { Backend, UploadResult } from "./backend.ts";

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

  /** Read-only checks (src/remote/check.ts): nothing is created or changed on the site. */
  check(opts: { nodes?: number } = {}): Promise<CheckLine[]> {
    const nodes = opts.nodes ?? this.#profile.slurm.defaults.nodes;
    return siteChecks(this.#site, {
      remoteDir: this.#profile.remote.baseDir,
      slurm: this.slurm,
      nodeCommand: this.#profile.node.command[0] ?? "sealbatch",
      ...(nodes !== undefined ? { nodes } : {}),
    });
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

  async removeJobDir(job: string): Promise<boolean> {
    // The path is built from a checked job id below the profile's base directory.
    const dir = sh(this.jobDir(job));
    const r = await this.#site.transfer.exec(`rm -rf -- ${dir} && [ ! -e ${dir} ]`);
    return r.code === 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const t = this.#transfers;
    this.#transfers = undefined;
    if (t) await t.then((x) => x.close()).catch(() => {});
    this.#site.close();
  }
}
