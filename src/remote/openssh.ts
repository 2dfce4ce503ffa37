/**
 * OpenSSH as a byte mover for bulk transfers (it is several times faster than
 * ssh2 in Deno). It is pinned to exactly the host keys the ssh2 connection
 * already verified (a private known_hosts file, StrictHostKeyChecking=yes,
 * BatchMode), and one multiplexed master connection serves every transfer.
 */
import { exec } from "../util/exec.ts";
import { makePrivateDir, type PrivateDir } from "../util/secret_file.ts";
import { hostKeyName } from "./known_hosts.ts";
import type { RemoteHost } from "./connection.ts";
import type { Endpoint, SiteConnection } from "./settings.ts";
import { sh } from "./quote.ts";

/** AES-GCM first: with AES-NI it is the cheapest cipher OpenSSH offers. */
const CIPHERS = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com";

function hostKeyAlgorithms(keyType: string): string {
  return keyType === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256" : keyType;
}

/**
 * `bash FROM_FILE PATH OFFSET PROGRAM ARGS...`: PROGRAM with PATH as stdin,
 * positioned at OFFSET (dd seeks, it does not read). Fixed script; the path
 * and the arguments stay argv.
 */
const FROM_FILE = [
  "-c",
  'exec <"$1" && { [ "$2" = 0 ] || dd skip="$2" iflag=skip_bytes count=0 status=none; } && ' +
  'shift 2 && exec "$@"',
  "bash",
];

export class OpenSshMover {
  #dir: PrivateDir;
  #args: string[];
  #target: string;

  private constructor(dir: PrivateDir, args: string[], target: string) {
    this.#dir = dir;
    this.#args = args;
    this.#target = target;
  }

  /** Set up the pinned options; fails when ssh is missing or cannot log in non-interactively. */
  static async create(site: SiteConnection, host: RemoteHost): Promise<OpenSshMover> {
    const dir = await makePrivateDir("sealbatch-ssh", { fallback: true });
    try {
      const lines = host.accepted.map((k) =>
        `${hostKeyName(k.endpoint.host, k.endpoint.port)} ${k.keyType} ${k.keyBase64}\n`
      );
      await Deno.writeTextFile(`${dir.path}/known_hosts`, lines.join(""), { mode: 0o600 });
      const common = (e: Endpoint, keyType: string) => [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${dir.path}/known_hosts`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "UpdateHostKeys=no",
        "-o",
        "CheckHostIP=no",
        "-o",
        `HostKeyAlgorithms=${hostKeyAlgorithms(keyType)}`,
        "-o",
        `ServerAliveInterval=${Math.max(1, Math.round((site.keepaliveMs ?? 15_000) / 1000))}`,
        "-o",
        "ServerAliveCountMax=4",
        "-o",
        `Ciphers=${CIPHERS}`,
        "-o",
        "Compression=no",
        ...(site.identity ? ["-o", "IdentitiesOnly=yes", "-i", site.identity] : []),
        "-p",
        String(e.port),
        "-l",
        e.user,
      ];
      const key = (e: Endpoint) =>
        host.accepted.find((k) => k.endpoint === e)?.keyType ?? "ssh-ed25519";
      const args = common(host.endpoint, key(host.endpoint));
      if (site.jump) {
        const j = site.jump;
        const proxy = ["ssh", ...common(j, key(j)), "-W", "%h:%p", j.host].map((a) =>
          a === "%h:%p" ? a : sh(a)
        ).join(" ");
        args.push("-o", `ProxyCommand=${proxy}`);
      }
      args.push(
        "-o",
        "ControlMaster=auto",
        "-o",
        `ControlPath=${dir.path}/cm`,
        "-o",
        "ControlPersist=600",
      );
      const mover = new OpenSshMover(dir, args, host.endpoint.host);
      await mover.run("true");
      return mover;
    } catch (err) {
      await dir.remove();
      throw err;
    }
  }

  /**
   * Run one remote command with streamed stdin/stdout; throws on a non-zero
   * exit. `stdinFile` gives ssh the local file itself as stdin, from `offset`
   * on: ssh reads it directly, with no pipe through this process.
   */
  async run(
    command: string,
    io: {
      stdin?: ReadableStream<Uint8Array>;
      stdinFile?: { path: string; offset: number };
      stdoutTo?: WritableStream<Uint8Array>;
    } = {},
  ): Promise<string> {
    const env: Record<string, string> = {};
    try {
      const agent = Deno.env.get("SSH_AUTH_SOCK");
      if (agent) env.SSH_AUTH_SOCK = agent;
    } catch {
      // no agent access granted
    }
    const ssh = ["ssh", ...this.#args, this.#target, command];
    const file = io.stdinFile;
    const result = await exec(
      file ? "bash" : "ssh",
      file ? [...FROM_FILE, file.path, String(file.offset), ...ssh] : ssh.slice(1),
      {
        ...(io.stdin ? { stdin: io.stdin } : {}),
        ...(io.stdoutTo ? { stdoutTo: io.stdoutTo } : {}),
        env,
        kind: "remote",
        what: "cannot transfer over ssh",
      },
    );
    return result.text;
  }

  async close(): Promise<void> {
    await exec("ssh", [...this.#args, "-O", "exit", this.#target], { okCodes: [0, 255] }).catch(
      () => {},
    );
    await this.#dir.remove();
  }
}
