/**
 * One SSH connection (ssh2) to one host, reused for every command: strict
 * host key checking, identity file or agent, optional jump host, keepalive,
 * channels to hosts behind it (see tunnel.ts), clean close.
 */
import { Buffer } from "node:buffer";
import { reason, SealbatchError } from "../util/errors.ts";
import { q } from "../util/errors.ts";
import { readSecretFile } from "../util/secret_file.ts";
import { exists } from "../util/files.ts";
import { requireNet, requireUnixSocket } from "../util/permissions.ts";
import {
  hostKeyName,
  hostKeyRefusal,
  judgeHostKey,
  keyTypeOf,
  type KnownHostEntry,
  knownKeyAlgorithms,
  parseKnownHosts,
} from "./known_hosts.ts";
import { type Endpoint, endpointLabel, type SiteConnection } from "./settings.ts";
import {
  newClient,
  parseKey,
  type Ssh2Client,
  type Ssh2Sftp,
  type Ssh2Stream,
} from "./ssh2_api.ts";

export interface RemoteResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Remote output is untrusted: cap what is kept in memory. */
const MAX_OUTPUT = 8 * 1024 * 1024;

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

export function defaultKnownHosts(): string {
  return `${envGet("HOME") ?? ""}/.ssh/known_hosts`;
}

/** A verified host key, kept so an OpenSSH subprocess can be pinned to exactly it. */
export interface AcceptedKey {
  endpoint: Endpoint;
  keyType: string;
  keyBase64: string;
}

async function loadKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await Deno.readTextFile(file), file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

async function authConfig(
  site: SiteConnection,
): Promise<{ privateKey?: Uint8Array; passphrase?: string; agent?: string }> {
  const out: { privateKey?: Uint8Array; passphrase?: string; agent?: string } = {};
  const agent = envGet("SSH_AUTH_SOCK");
  if ((site.agent || !site.identity) && agent) {
    requireUnixSocket(agent, "the ssh-agent");
    out.agent = agent;
  }
  if (site.identity) {
    const key = Buffer.from(
      await readSecretFile(site.identity, { label: "SSH identity", maxBytes: 64 * 1024 }),
    );
    let err = parseKey(key);
    if (err && /passphrase|encrypted/i.test(err.message)) {
      if (!site.passphrase) {
        throw new SealbatchError(
          "input",
          `cannot use SSH identity ${
            q(site.identity)
          }: it is protected by a passphrase and no terminal is available`,
          {
            hint: "load it into ssh-agent (ssh-add) or run on a terminal",
          },
        );
      }
      out.passphrase = await site.passphrase();
      err = parseKey(key, out.passphrase);
    }
    if (err) {
      throw new SealbatchError(
        "input",
        `cannot use SSH identity ${q(site.identity)}: ${reason(err)}`,
      );
    }
    out.privateKey = key;
  }
  if (!out.privateKey && !out.agent) {
    throw new SealbatchError(
      "usage",
      "no SSH credentials: give an identity file or start ssh-agent (SSH_AUTH_SOCK)",
    );
  }
  return out;
}

function samePlace(a: Endpoint, b: Endpoint): boolean {
  return a.host === b.host && a.port === b.port && a.user === b.user;
}

/** One authenticated connection to one endpoint. */
export class RemoteHost {
  readonly endpoint: Endpoint;
  readonly accepted: AcceptedKey[] = [];
  #client: Ssh2Client;
  #jump: RemoteHost | undefined;
  #closed = false;

  private constructor(endpoint: Endpoint, client: Ssh2Client, jump: RemoteHost | undefined) {
    this.endpoint = endpoint;
    this.#client = client;
    this.#jump = jump;
  }

  /** Connect to `endpoint` (through `site.jump` when set) and verify its host key. */
  static async connect(site: SiteConnection, endpoint: Endpoint): Promise<RemoteHost> {
    const jump = site.jump ? await RemoteHost.#open(site, site.jump, undefined) : undefined;
    try {
      const host = await RemoteHost.#open(site, endpoint, jump);
      if (jump) host.accepted.unshift(...jump.accepted);
      return host;
    } catch (err) {
      jump?.close();
      throw err;
    }
  }

  static async #open(
    site: SiteConnection,
    endpoint: Endpoint,
    jump: RemoteHost | undefined,
  ): Promise<RemoteHost> {
    const knownFile = site.knownHosts ?? defaultKnownHosts();
    // A pinned fingerprint is the login host's; a jump or transfer host goes by known_hosts.
    const pin = samePlace(endpoint, site.login) ? site.hostKeyFingerprint : undefined;
    const entries = pin ? [] : await loadKnownHosts(knownFile);
    const auth = await authConfig(site);
    const sock = jump ? await jump.forward(endpoint.host, endpoint.port) : undefined;
    const client = newClient();
    const host = new RemoteHost(endpoint, client, jump);
    let hostKeyError: Error | undefined;
    let addToKnownHosts: string | undefined;
    const verify = (blob: Uint8Array): boolean => {
      const keyType = keyTypeOf(blob);
      const keyBase64 = Buffer.from(blob).toString("base64");
      if (pin) {
        const verdict = judgeHostKey([], endpoint.host, endpoint.port, blob);
        if (verdict.fingerprint !== pin.replace(/=+$/, "")) {
          hostKeyError = hostKeyRefusal(
            { ...verdict, ok: false, reason: "changed" },
            endpoint.host,
            endpoint.port,
            keyType,
            "the pinned fingerprint",
          );
          return false;
        }
      } else {
        const verdict = judgeHostKey(entries, endpoint.host, endpoint.port, blob);
        if (!verdict.ok) {
          if (!(verdict.reason === "unknown" && site.acceptNew)) {
            hostKeyError = hostKeyRefusal(
              verdict,
              endpoint.host,
              endpoint.port,
              keyType,
              knownFile,
            );
            return false;
          }
          addToKnownHosts = `${
            hostKeyName(endpoint.host, endpoint.port)
          } ${keyType} ${keyBase64}\n`;
        }
      }
      host.accepted.push({ endpoint, keyType, keyBase64 });
      return true;
    };
    const algos = pin ? [] : knownKeyAlgorithms(entries, endpoint.host, endpoint.port);
    await new Promise<void>((resolve, reject) => {
      client.once("ready", () => resolve());
      client.once("error", (err) => {
        if (hostKeyError) return reject(hostKeyError);
        const label = q(endpointLabel(endpoint));
        if (err.level === "client-authentication") {
          return reject(
            // A login failure, not tampering: exit 6 like every other login problem.
            new SealbatchError(
              "remote",
              `cannot log in to ${label}: the server refused the key (publickey)`,
              {
                hint:
                  "check the user name and that the identity's public key is in the remote authorized_keys",
              },
            ),
          );
        }
        reject(new SealbatchError("remote", `cannot connect to ${label}: ${reason(err)}`));
      });
      client.connect({
        ...(sock ? { sock } : { host: endpoint.host, port: endpoint.port }),
        username: endpoint.user,
        ...auth,
        hostVerifier: verify,
        ...(algos.length ? { algorithms: { serverHostKey: algos } } : {}),
        keepaliveInterval: site.keepaliveMs ?? 15_000,
        keepaliveCountMax: 4,
        readyTimeout: 20_000,
      });
    });
    // Nagle + delayed ACKs stall every small request (exec, channel open) by ~40 ms.
    client.setNoDelay(true);
    client.on("error", () => {}); // later errors surface through the operation that hits them
    client.on("close", () => {
      host.#closed = true;
    });
    if (addToKnownHosts) {
      await Deno.writeTextFile(knownFile, addToKnownHosts, { append: true, mode: 0o600 });
    }
    return host;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Run a shell command (built with quote.ts only); never throws for a non-zero exit. */
  exec(command: string, opts: { stdin?: Uint8Array } = {}): Promise<RemoteResult> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error) =>
        reject(
          new SealbatchError(
            "remote",
            `remote command on ${q(endpointLabel(this.endpoint))} failed: ${reason(err)}`,
          ),
        );
      if (this.#closed) return fail(new Error("connection closed"));
      this.#client.exec(command, (err, stream) => {
        if (err) return fail(err);
        const out: Uint8Array[] = [];
        const errs: Uint8Array[] = [];
        let outLen = 0;
        let errLen = 0;
        let code: number | null = null;
        stream.on("data", (c) => {
          if ((outLen += c.length) <= MAX_OUTPUT) out.push(c);
        });
        stream.stderr.on("data", (c) => {
          if ((errLen += c.length) <= 65536) errs.push(c);
        });
        stream.on("exit", (c) => {
          code = c;
        });
        stream.on("error", fail);
        stream.on("close", (c) => {
          if (outLen > MAX_OUTPUT) return fail(new Error(`output larger than ${MAX_OUTPUT} bytes`));
          const exit = code ?? c;
          if (exit === null || exit === undefined) {
            return fail(new Error("connection lost before the command ended"));
          }
          resolve({
            code: exit,
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(errs).toString("utf8"),
          });
        });
        stream.end(opts.stdin);
      });
    });
  }

  sftp(): Promise<Ssh2Sftp> {
    return new Promise((resolve, reject) => {
      this.#client.sftp((err, sftp) =>
        err
          ? reject(new SealbatchError("remote", `cannot start SFTP: ${reason(err)}`))
          : resolve(sftp)
      );
    });
  }

  /** A byte stream to host:port as seen from this host (ProxyJump, tunnels). */
  forward(host: string, port: number): Promise<Ssh2Stream> {
    return new Promise((resolve, reject) => {
      this.#client.forwardOut(
        "127.0.0.1",
        0,
        host,
        port,
        (err, stream) =>
          err
            ? reject(
              new SealbatchError(
                "remote",
                `cannot open a channel to ${q(`${host}:${port}`)} through ${
                  q(endpointLabel(this.endpoint))
                }: ${reason(err)}`,
              ),
            )
            : resolve(stream),
      );
    });
  }

  close(): void {
    if (!this.#closed) this.#client.end();
    this.#closed = true;
    this.#jump?.close();
  }
}

/** The login host, and the transfer host when it differs, sharing one lifetime. */
export class RemoteSite implements AsyncDisposable {
  readonly settings: SiteConnection;
  readonly login: RemoteHost;
  readonly transfer: RemoteHost;

  private constructor(settings: SiteConnection, login: RemoteHost, transfer: RemoteHost) {
    this.settings = settings;
    this.login = login;
    this.transfer = transfer;
  }

  static async connect(settings: SiteConnection): Promise<RemoteSite> {
    if (
      settings.knownHosts && !settings.hostKeyFingerprint && !settings.acceptNew &&
      !(await exists(settings.knownHosts))
    ) {
      throw new SealbatchError(
        "input",
        `cannot check host keys: known_hosts file ${q(settings.knownHosts)} does not exist`,
      );
    }
    // Every host first: a site this build does not cover is refused before any packet.
    if (settings.jump) requireNet(settings.jump.host, settings.jump.port, "jump host");
    requireNet(settings.login.host, settings.login.port, "SSH login host");
    if (settings.transfer) {
      requireNet(settings.transfer.host, settings.transfer.port, "transfer host");
    }
    const login = await RemoteHost.connect(settings, settings.login);
    const t = settings.transfer;
    if (!t || samePlace(t, settings.login)) {
      return new RemoteSite(settings, login, login);
    }
    try {
      return new RemoteSite(settings, login, await RemoteHost.connect(settings, t));
    } catch (err) {
      login.close();
      throw err;
    }
  }

  close(): void {
    this.login.close();
    this.transfer.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
