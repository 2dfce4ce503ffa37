/**
 * A tunnel through the login node to servers behind it (the key server at
 * sites that expose it only inside). It is a tiny HTTP CONNECT proxy on
 * 127.0.0.1: an HTTPS client given it as `Deno.createHttpClient({ proxy })`
 * keeps using the server's real URL, so TLS is verified against the real name
 * end to end; the login node only carries encrypted bytes and resolves the
 * name. The proxy demands a random per-tunnel password (other local users
 * cannot use it) and opens only the targets it was made for.
 */
import { Buffer } from "node:buffer";
import { createServer, type Socket } from "node:net";
import { inputError, q } from "../util/errors.ts";
import type { RemoteHost } from "./connection.ts";

export interface TunnelTarget {
  host: string;
  port: number;
}

export interface Tunnel {
  /** For `Deno.createHttpClient({ proxy })`. */
  proxy: { url: string; basicAuth: { username: string; password: string } };
  /** CONNECT requests served (for tests and diagnostics). */
  readonly opened: number;
  close(): Promise<void>;
}

/** The target of an https URL (default port 443). */
export function targetOf(url: string): TunnelTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw inputError(`cannot tunnel to ${q(url)}: not a URL`);
  }
  if (u.protocol !== "https:") {
    throw inputError(`cannot tunnel to ${q(url)}: only https is carried through the login node`, {
      hint: "the tunnel does not replace TLS; use the server's https address",
    });
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 443) };
}

/** Request heads are tiny; anything larger is not our client. */
const MAX_HEAD = 8192;

function reply(sock: Socket, status: string): void {
  sock.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

/** Open a CONNECT proxy whose connections leave through `via` (normally the login host). */
export async function openTunnel(via: RemoteHost, targets: TunnelTarget[]): Promise<Tunnel> {
  const username = "sealbatch";
  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  const allowed = new Set(targets.map((t) => `${t.host.toLowerCase()}:${t.port}`));
  const sockets = new Set<Socket>();
  let opened = 0;

  const server = createServer((local: Socket) => {
    sockets.add(local);
    local.on("close", () => sockets.delete(local));
    local.on("error", () => local.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEAD) reply(local, "431 Request Header Fields Too Large");
        return;
      }
      local.off("data", onData);
      local.pause();
      const lines = head.subarray(0, end).toString("latin1").split("\r\n");
      const m = /^CONNECT ([^\s]+):(\d{1,5}) HTTP\/1\.[01]$/.exec(lines[0] ?? "");
      const auth = lines.find((l) => /^proxy-authorization:/i.test(l))?.replace(/^[^:]*:\s*/, "");
      if (auth !== expected) return reply(local, "407 Proxy Authentication Required");
      const host = m?.[1]?.replace(/^\[|\]$/g, "").toLowerCase();
      const port = Number(m?.[2]);
      if (!m || !host || !allowed.has(`${host}:${port}`)) return reply(local, "403 Forbidden");
      via.forward(host, port).then((remote) => {
        opened++;
        local.write("HTTP/1.1 200 Connection established\r\n\r\n");
        const rest = head.subarray(end + 4);
        if (rest.length > 0) remote.write(rest);
        local.pipe(remote as unknown as NodeJS.WritableStream);
        remote.pipe(local);
        local.on("close", () => remote.destroy());
        remote.on("close", () => local.destroy());
        remote.on("error", () => local.destroy());
        local.resume();
      }, () => reply(local, "502 Bad Gateway"));
    };
    local.on("data", onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    proxy: { url: `http://127.0.0.1:${port}`, basicAuth: { username, password } },
    get opened() {
      return opened;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
