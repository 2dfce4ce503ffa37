/**
 * Site profile: everything sealbatch needs to know about one HPC site.
 * One YAML file per site, in $XDG_CONFIG_HOME/sealbatch/sites/NAME.yaml or
 * given by path. Validation errors name file:line:column.
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";
import { NAME_RE } from "../util/user.ts";
import { MAX_NODES } from "../kms/credentials.ts";
import type { TokenSource } from "./vault_token.ts";
import { type Fields, YamlFile } from "./yaml.ts";

export interface HostRef {
  host: string;
  port: number;
  user?: string;
}

export interface SiteProfile {
  name: string;
  path: string;
  /** The user's OpenPGP secret key that signs run.sh (`sealbatch run` default). */
  signKey?: string;
  ssh: {
    login: HostRef;
    /** Host for bulk transfers (the reference site uses a transfer node). */
    transfer: HostRef;
    user: string;
    identity?: string;
    knownHosts?: string;
    /** Pinned host key fingerprint ("SHA256:..."), checked instead of known_hosts. */
    hostKeyFingerprint?: string;
    jump?: HostRef;
  };
  remote: { baseDir: string };
  vault: {
    addr: string;
    mount: string;
    caCert?: string;
    namespace?: string;
    /** Where the client's token comes from (never the profile itself). */
    tokenSource: TokenSource;
    wrapTtlMs: number;
    keyMode: "job-scoped" | "reference";
    referencePolicy?: string;
    /** Reach Vault through an SSH tunnel via the login node. */
    tunnel: boolean;
  };
  node: {
    publicKey: string;
    flavour: "sealbatch" | "reference";
    /** argv words that run sealbatch on the node (sealbatch flavour). */
    command: string[];
    /**
     * Size of the node's work_dir (tmpfs) as the site states it, in bytes: the
     * rootless node holds the job's decrypted input and results there.
     */
    workDirSize?: number;
  };
  slurm: {
    partition: string;
    exclusive: boolean;
    programs: Record<"sbatch" | "squeue" | "sacct" | "scancel", string>;
    defaults: SlurmResources;
  };
}

export interface SlurmResources {
  time?: string;
  mem?: string;
  cpus?: number;
  /** Nodes of the allocation (sbatch --nodes); a sealed job runs on every one. */
  nodes?: number;
  /** Tasks per node (sbatch --ntasks-per-node). */
  tasksPerNode?: number;
  gres?: string;
  account?: string;
  reservation?: string;
  extraArgs?: string[];
}

const HOST_RE = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9a-fA-F:]+\]$/;

function hostRef(f: Fields, key: string, defaults?: HostRef): HostRef | undefined {
  const m = f.map(key);
  if (!m) return defaults;
  m.only(["host", "port", "user"]);
  const host = m.string("host", true);
  if (!HOST_RE.test(host)) throw m.error("host", `invalid host name ${q(host)}`);
  const port = m.number("port", 1) ?? 22;
  if (!Number.isInteger(port) || port > 65535) {
    throw m.error("port", `${m.path("port")}: expected a port 1-65535`);
  }
  const user = m.string("user");
  return { host, port, ...(user ? { user } : {}) };
}

export function resources(f: Fields | undefined): SlurmResources {
  if (!f) return {};
  f.only([
    "time",
    "mem",
    "cpus",
    "nodes",
    "tasks_per_node",
    "gres",
    "account",
    "reservation",
    "extra_args",
  ]);
  const out: SlurmResources = {};
  const time = f.string("time");
  if (time !== undefined) {
    if (!/^(\d+-)?\d{1,2}(:\d{2}){0,2}$/.test(time)) {
      throw f.error(
        "time",
        `${f.path("time")}: expected a Slurm time such as 01:00:00 or 2-00:00:00, got ${q(time)}`,
      );
    }
    out.time = time;
  }
  const mem = f.string("mem");
  if (mem !== undefined) {
    if (!/^\d+[KMGT]?$/.test(mem)) {
      throw f.error("mem", `${f.path("mem")}: expected memory such as 4G or 500M, got ${q(mem)}`);
    }
    out.mem = mem;
  }
  const cpus = f.number("cpus", 1);
  if (cpus !== undefined) {
    if (!Number.isInteger(cpus)) {
      throw f.error("cpus", `${f.path("cpus")}: expected a whole number of CPUs, got ${cpus}`);
    }
    out.cpus = cpus;
  }
  const nodes = f.number("nodes", 1);
  if (nodes !== undefined) {
    if (!Number.isInteger(nodes) || nodes > MAX_NODES) {
      throw f.error(
        "nodes",
        `${f.path("nodes")}: expected a whole number of nodes, 1-${MAX_NODES}, got ${nodes}`,
      );
    }
    out.nodes = nodes;
  }
  const tasks = f.number("tasks_per_node", 1);
  if (tasks !== undefined) {
    if (!Number.isInteger(tasks)) {
      throw f.error(
        "tasks_per_node",
        `${f.path("tasks_per_node")}: expected a whole number of tasks, got ${tasks}`,
      );
    }
    out.tasksPerNode = tasks;
  }
  for (const key of ["gres", "account", "reservation"] as const) {
    const v = f.string(key);
    if (v !== undefined) {
      if (!/^[A-Za-z0-9_.:,=-]+$/.test(v)) {
        throw f.error(key, `${f.path(key)}: unexpected characters in ${q(v)}`);
      }
      out[key] = v;
    }
  }
  const extra = f.strings("extra_args");
  if (extra) out.extraArgs = extra;
  return out;
}

/** Parse and validate a site profile file. */
export async function loadSiteProfile(path: string): Promise<SiteProfile> {
  const file = await YamlFile.read(path);
  const root = file.root().only(["name", "sign_key", "ssh", "remote", "vault", "node", "slurm"]);
  const name = root.string("name", true);
  if (!NAME_RE.test(name)) {
    throw inputError(`${file.where(["name"])}: invalid site name ${q(name)}`);
  }

  const ssh = root.map("ssh") ?? fail(file, ["ssh"], "an ssh section");
  ssh.only([
    "login",
    "transfer",
    "user",
    "identity",
    "known_hosts",
    "host_key_fingerprint",
    "jump",
  ]);
  const login = hostRef(ssh, "login") ?? fail(file, ["ssh", "login"], "ssh.login with a host");
  const fingerprint = ssh.string("host_key_fingerprint");
  if (fingerprint !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(fingerprint)) {
    throw inputError(
      `${
        file.where(["ssh", "host_key_fingerprint"])
      }: expected an OpenSSH fingerprint such as SHA256:abc... (ssh-keygen -lf)`,
    );
  }
  const remote = root.map("remote") ?? fail(file, ["remote"], "a remote section with base_dir");
  remote.only(["base_dir"]);
  const baseDir = remote.string("base_dir", true);
  if (!baseDir.startsWith("/") || baseDir.includes("..")) {
    throw inputError(
      `${file.where(["remote", "base_dir"])}: expected an absolute remote path without "..", got ${
        q(baseDir)
      }`,
    );
  }

  const vault = root.map("vault") ?? fail(file, ["vault"], "a vault section with addr");
  vault.only([
    "addr",
    "mount",
    "ca_cert",
    "namespace",
    "token_source",
    "wrap_ttl",
    "key_mode",
    "reference_policy",
    "tunnel",
  ]);
  const addr = vault.string("addr", true);
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw inputError(
      `${
        file.where(["vault", "addr"])
      }: expected a URL such as https://vault.example.org:8200, got ${q(addr)}`,
    );
  }
  if (url.protocol !== "https:" && !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw inputError(
      `${
        file.where(["vault", "addr"])
      }: Vault must be reached over https (plain http only on loopback)`,
    );
  }
  const keyMode = vault.oneOf("key_mode", ["job-scoped", "reference"] as const) ?? "job-scoped";
  const referencePolicy = vault.string("reference_policy");
  if (keyMode === "reference" && !referencePolicy) {
    fail(file, ["vault", "reference_policy"], "vault.reference_policy when key_mode is reference");
  }

  const node = root.map("node") ?? fail(file, ["node"], "a node section with public_key");
  node.only(["public_key", "flavour", "command", "work_dir_size"]);
  const workDirText = node.string("work_dir_size");
  const workDirMatch = workDirText === undefined
    ? undefined
    : /^(\d{1,7})([MGT])$/.exec(workDirText);
  if (workDirText !== undefined && !workDirMatch) {
    throw inputError(
      `${file.where(["node", "work_dir_size"])}: expected a size such as 256M or 64G, got ${
        q(workDirText)
      }`,
    );
  }
  const workDirSize = workDirMatch
    ? Number(workDirMatch[1]) * 1024 ** ({ M: 2, G: 3, T: 4 }[workDirMatch[2] as "M" | "G" | "T"])
    : undefined;
  const nodeCommand = node.strings("command") ?? ["sealbatch"];
  if (nodeCommand.length === 0 || nodeCommand.some((w) => w === "" || /[\0\n]/.test(w))) {
    throw inputError(
      `${
        file.where(["node", "command"])
      }: node.command: expected a list of words such as [sealbatch]`,
    );
  }
  const slurm = root.map("slurm");
  slurm?.only(["partition", "exclusive", "programs", "defaults"]);
  const programs = slurm?.map("programs");
  programs?.only(["sbatch", "squeue", "sacct", "scancel"]);
  const program = (k: "sbatch" | "squeue" | "sacct" | "scancel") => programs?.string(k) ?? k;

  const user = ssh.string("user", true);
  const identity = ssh.string("identity");
  const knownHosts = ssh.string("known_hosts");
  const jump = hostRef(ssh, "jump");
  const caCert = vault.string("ca_cert");
  const namespace = vault.string("namespace");
  const signKey = root.string("sign_key");
  return {
    name,
    path,
    ...(signKey ? { signKey: expandHome(signKey) } : {}),
    ssh: {
      login,
      transfer: hostRef(ssh, "transfer", login) ?? login,
      user,
      ...(identity ? { identity: expandHome(identity) } : {}),
      ...(knownHosts ? { knownHosts: expandHome(knownHosts) } : {}),
      ...(fingerprint ? { hostKeyFingerprint: fingerprint } : {}),
      ...(jump ? { jump } : {}),
    },
    remote: { baseDir },
    vault: {
      addr: addr.replace(/\/+$/, ""),
      mount: vault.string("mount") ?? "secret",
      ...(caCert ? { caCert: expandHome(caCert) } : {}),
      ...(namespace ? { namespace } : {}),
      tokenSource: tokenSource(vault),
      wrapTtlMs: wrapTtl(vault),
      keyMode,
      ...(referencePolicy ? { referencePolicy } : {}),
      tunnel: vault.bool("tunnel") ?? false,
    },
    node: {
      publicKey: expandHome(node.string("public_key", true)),
      flavour: node.oneOf("flavour", ["sealbatch", "reference"] as const) ?? "sealbatch",
      command: nodeCommand,
      ...(workDirSize !== undefined ? { workDirSize } : {}),
    },
    slurm: {
      partition: slurm?.string("partition") ?? "secure",
      exclusive: slurm?.bool("exclusive") ?? true,
      programs: {
        sbatch: program("sbatch"),
        squeue: program("squeue"),
        sacct: program("sacct"),
        scancel: program("scancel"),
      },
      defaults: resources(slurm?.map("defaults")),
    },
  };
}

/** vault.token_source: auto (default), env, file (~/.vault-token) or file:PATH. */
function tokenSource(vault: Fields): TokenSource {
  const text = vault.string("token_source") ?? "auto";
  if (text === "auto" || text === "env") return { kind: text };
  if (text === "file") return { kind: "file", path: expandHome("~/.vault-token") };
  if (text.startsWith("file:") && text.length > "file:".length && !text.includes("\0")) {
    return { kind: "file", path: expandHome(text.slice("file:".length)) };
  }
  throw vault.error(
    "token_source",
    `${vault.path("token_source")}: expected auto, env, file or file:PATH, got ${q(text)}`,
    "auto: VAULT_TOKEN, else ~/.vault-token; env: VAULT_TOKEN; file: ~/.vault-token; " +
      "file:PATH: a token file (mode 0600)",
  );
}

/** vault.wrap_ttl in milliseconds; a bad value is reported at its position. */
function wrapTtl(vault: Fields): number {
  const text = vault.string("wrap_ttl") ?? "72h";
  try {
    return parseDuration(text, "vault.wrap_ttl");
  } catch (err) {
    if (!(err instanceof SealbatchError)) throw err;
    throw vault.error(
      "wrap_ttl",
      `${vault.path("wrap_ttl")}: expected a duration such as 72h or 1h30m, got ${q(text)}`,
      err.hint,
    );
  }
}

function fail(file: YamlFile, at: string[], expected: string): never {
  throw inputError(`${file.where(at)}: missing ${expected}`);
}

function expandHome(path: string): string {
  if (!path.startsWith("~/")) return path;
  let home = "";
  try {
    home = Deno.env.get("HOME") ?? "";
  } catch {
    // not granted: leave the path as written
  }
  return home ? `${home}${path.slice(1)}` : path;
}
