/**
 * Test fixtures for the key-management area: a CA and server certificate made
 * with the real `openssl`, the Vault-compatible development server (the
 * project's Vault stand-in) serving TLS in-process, and a node-local tmpfs.
 */
import { type DevServer, startDevServer } from "../../src/kms/dev_server.ts";
import { VaultClient } from "../../src/kms/vault_client.ts";

export const IS_ROOT = Deno.uid() === 0;

async function run(program: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    ...(cwd ? { cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${program} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

export function hasProgramSync(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).outputSync().success;
  } catch {
    return false;
  }
}

export interface Pki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A fresh CA and a server certificate for 127.0.0.1/localhost signed by it. */
export async function makePki(dir: string, name = "ca"): Promise<Pki> {
  const p = (f: string) => `${dir}/${name}-${f}`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
    "-days",
    "2",
    "-subj",
    `/CN=sealbatch test ${name}`,
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    p("server.key"),
    "-out",
    p("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(
    p("ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    p("server.csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("server.pem"),
    "-days",
    "2",
    "-extfile",
    p("ext.cnf"),
  ]);
  return { dir, ca: p("ca.pem"), cert: p("server.pem"), key: p("server.key") };
}

export interface TlsVault extends DevServer {
  pki: Pki;
  /** A client with the root token that trusts the test CA. */
  root(): Promise<VaultClient>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The development server over TLS on a free loopback port. */
export async function startTlsVault(dir: string, rootToken = "root-test-token"): Promise<TlsVault> {
  const pki = await makePki(dir);
  const server = await startDevServer({
    hostname: "127.0.0.1",
    port: 0,
    rootToken,
    cert: await Deno.readTextFile(pki.cert),
    key: await Deno.readTextFile(pki.key),
  });
  const clients: VaultClient[] = [];
  return {
    ...server,
    pki,
    root: async () => {
      const c = await VaultClient.connect(
        { addr: server.addr, caCert: pki.ca, backoffMs: 10 },
        rootToken,
      );
      clients.push(c);
      return c;
    },
    [Symbol.asyncDispose]: async () => {
      for (const c of clients) c.close();
      await server.shutdown();
    },
  };
}

/**
 * A small tmpfs (node-local memory, what fetch-keys requires). Deno's
 * permissions keep /dev/shm closed, so tests mount their own; needs root.
 */
export async function mountTmpfs(
  dir: string,
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = `${dir}/tmpfs`;
  await Deno.mkdir(path, { mode: 0o700 });
  await run("mount", ["-t", "tmpfs", "-o", "size=8m,mode=700", "tmpfs", path]);
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await run("umount", [path]).catch(() => {});
    },
  };
}

/** Write a key file with mode 0600 and return its path. */
export async function keyFile(
  dir: string,
  name: string,
  data: Uint8Array | string,
): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, typeof data === "string" ? new TextEncoder().encode(data) : data, {
    mode: 0o600,
  });
  await Deno.chmod(path, 0o600);
  return path;
}

/** Raw HTTP call against the server (status + parsed JSON), to pin wire shapes. */
export async function raw(
  vault: TlsVault,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; wrapTtl?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> | null; text: string }> {
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(vault.pki.ca)] });
  try {
    const res = await fetch(`${vault.addr}/v1/${path}`, {
      method,
      client,
      headers: {
        ...(opts.token ? { "X-Vault-Token": opts.token } : {}),
        ...(opts.wrapTtl ? { "X-Vault-Wrap-TTL": opts.wrapTtl } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, text };
  } finally {
    client.close();
  }
}
