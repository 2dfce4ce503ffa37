/**
 * The development server's HTTP handling: it runs in this Worker on
 * 127.0.0.1:0 and each case is a raw request written to a new connection,
 * which is then half-closed. The server must answer below 500 (a 500 is an
 * exception in a handler) or close the connection, within the read deadline,
 * and must still answer a health check afterwards.
 */
import { startDevServer } from "../../../src/kms/dev_server.ts";
import { type FuzzTarget, utf8 } from "../_harness.ts";

const ROOT = "hvs.fuzzrootfuzzrootfuzzroot";
const READ_DEADLINE_MS = 1000;

function request(method: string, path: string, body?: unknown, headers: string[] = []): string {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  return [
    `${method} ${path} HTTP/1.1`,
    "Host: 127.0.0.1",
    `X-Vault-Token: ${ROOT}`,
    ...headers,
    ...(body === undefined
      ? []
      : ["Content-Type: application/json", `Content-Length: ${utf8(text).length}`]),
    "",
    text,
  ].join("\r\n");
}

const SEEDS = [
  request("GET", "/v1/sys/health"),
  request("POST", "/v1/secret/data/jobs/j1/key", {
    data: { key: "c2VjcmV0" },
    options: { cas: 0 },
  }),
  request("GET", "/v1/secret/data/jobs/j1/key", undefined, ["X-Vault-Wrap-TTL: 5m"]),
  request("GET", "/v1/secret/metadata/jobs/?list=true"),
  request("LIST", "/v1/secret/metadata/jobs"),
  request("DELETE", "/v1/secret/metadata/jobs/j1/key"),
  request("POST", "/v1/auth/token/create", {
    policies: ["default"],
    num_uses: 2,
    ttl: "1h",
    meta: { job: "j1" },
    display_name: "job",
    no_default_policy: false,
  }),
  request("POST", "/v1/sys/wrapping/wrap", { a: 1 }, ["X-Vault-Wrap-TTL: 300"]),
  request("POST", "/v1/sys/wrapping/lookup", { token: "hvs.nosuchtoken" }),
  request("POST", "/v1/sys/wrapping/unwrap", { token: "hvs.nosuchtoken" }),
  request("POST", "/v1/sys/wrapping/rewrap", { token: "hvs.nosuchtoken" }),
  request("POST", "/v1/auth/token/revoke-accessor", { accessor: "nope" }),
  request("POST", "/v1/auth/token/lookup", { token: ROOT }),
  request("GET", "/v1/auth/token/lookup-self"),
  request("PUT", "/v1/sys/policies/acl/job", {
    policy: 'path "secret/data/jobs/*" { capabilities = ["read", "create"] }',
  }),
  request("GET", "/v1/sys/policies/acl/job"),
  request("POST", "/v1/secret/data/big", undefined, ["Content-Length: 99999999999"]) + "{",
  request("POST", "/v1/secret/data/chunked", undefined, ["Transfer-Encoding: chunked"]) +
  '5\r\n{"a":\r\n3\r\n1}\n\r\n0\r\n\r\n',
];

const TOKENS = [
  "\r\n",
  "\r\n\r\n",
  "Content-Length: 99999999999\r\n",
  "Content-Length: -1\r\n",
  "Content-Length: 5\r\nContent-Length: 6\r\n",
  "Transfer-Encoding: chunked\r\n",
  "X-Vault-Wrap-TTL: -5s\r\n",
  "X-Vault-Wrap-TTL: 99999999999999999999h\r\n",
  "X-Vault-Token: \r\n",
  "Authorization: Bearer x\r\n",
  "%ZZ",
  "%00",
  "%2e%2e/",
  "?list=true",
  "{}",
  "[]",
  "null",
  '{"toString":1,"valueOf":1}',
  '"token":{"toString":1},',
  '"policies":"x",',
  '"meta":[],',
  '"num_uses":-1,',
  '"ttl":{},',
  '"data":null,',
  "HTTP/1.0",
  "GET ",
  "HEAD ",
  "OPTIONS ",
];

async function exchange(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), READ_DEADLINE_MS);
  let got = "";
  let timedOut = true;
  try {
    try {
      let sent = 0;
      while (sent < bytes.length) sent += await conn.write(bytes.subarray(sent));
      await conn.closeWrite();
    } catch {
      // The server may refuse a request before all of it is sent.
    }
    const buf = new Uint8Array(4096);
    const dec = new TextDecoder();
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) {
        timedOut = false;
        break;
      }
      got += dec.decode(buf.subarray(0, n));
      if (got.includes("\r\n\r\n") || got.length > 65536) {
        timedOut = false;
        break;
      }
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the deadline already.
    }
  }
  if (timedOut && got === "") {
    throw new Error(`no answer and no close within ${READ_DEADLINE_MS} ms`);
  }
  return got;
}

export async function makeTarget(name: string): Promise<FuzzTarget> {
  const server = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: ROOT });
  const port = Number(new URL(server.addr).port);
  const health = utf8(
    "GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
  );
  return {
    name,
    seeds: SEEDS.map(utf8),
    tokens: TOKENS,
    maxBytes: 256 * 1024,
    exitCodes: [],
    async run(input) {
      const answer = await exchange(port, input);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
      if (status !== undefined && Number(status) >= 500) {
        throw new Error(
          `the server answered ${answer.split("\r\n\r\n")[0]!.replace(/\r\n/g, " | ")}`,
        );
      }
      const alive = await exchange(port, health);
      if (!alive.startsWith("HTTP/1.1 200")) {
        throw new Error(
          `the server no longer answers a health check (${JSON.stringify(alive.slice(0, 80))})`,
        );
      }
    },
    close: () => server.shutdown(),
  };
}
