/**
 * Faults from a small scripted HTTP server on raw TCP (it can answer 503/429,
 * hang, or cut the connection mid-answer, which a well-behaved server cannot).
 */
import assert from "node:assert/strict";
import { VaultClient, VaultError } from "../../src/kms/vault_client.ts";

type Step = "200" | "400" | "403" | "429" | "503" | "500" | "hang" | "cut";

const OK_BODY = JSON.stringify({
  request_id: "r",
  lease_id: "",
  renewable: false,
  lease_duration: 0,
  data: { data: { key: "v" }, metadata: { version: 1 } },
  wrap_info: null,
  warnings: null,
  auth: null,
  mount_type: "kv",
});

function reply(status: number, body: string): string {
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
}

async function readRequest(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  const length = Number(text.match(/content-length:\s*(\d+)/i)?.[1] ?? 0);
  let body = text.split("\r\n\r\n")[1]!.length;
  while (body < length) {
    const n = await conn.read(buf);
    if (n === null) break;
    body += n;
  }
  return text.split("\r\n\r\n")[0]!;
}

function faultServer(steps: Step[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { requests: 0, hung: [] as Deno.Conn[], heads: [] as string[] };
  const enc = new TextEncoder();
  (async () => {
    for await (const conn of listener) {
      const step = steps[Math.min(state.requests, steps.length - 1)]!;
      state.requests++;
      (async () => {
        state.heads.push(await readRequest(conn));
        if (step === "hang") {
          state.hung.push(conn);
          return;
        }
        if (step === "cut") {
          await conn.write(
            enc.encode(
              `HTTP/1.1 200 OK\r\nContent-Length: ${OK_BODY.length}\r\n\r\n${OK_BODY.slice(0, 20)}`,
            ),
          );
        } else if (step === "200") {
          await conn.write(enc.encode(reply(200, OK_BODY)));
        } else {
          const msg = step === "403"
            ? "1 error occurred:\n\t* permission denied\n\n"
            : "secret-looking body";
          await conn.write(enc.encode(reply(Number(step), JSON.stringify({ errors: [msg] }))));
        }
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  const addr = listener.addr as Deno.NetAddr;
  return {
    addr: `http://127.0.0.1:${addr.port}`,
    state,
    close() {
      for (const c of state.hung) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      listener.close();
    },
  };
}

async function client(addr: string, extra: { timeoutMs?: number; retries?: number } = {}) {
  return await VaultClient.connect({ addr, backoffMs: 5, timeoutMs: 2000, ...extra }, "hvs.test");
}

Deno.test("503 twice then 200: retried and succeeds", async () => {
  const srv = faultServer(["503", "503", "200"]);
  const c = await client(srv.addr);
  try {
    assert.deepEqual(await c.kvRead("secret", "x"), { key: "v" });
    assert.equal(srv.state.requests, 3);
  } finally {
    c.close();
    srv.close();
  }
});

Deno.test("429 is retried; when it persists the error names rate limiting", async () => {
  const srv = faultServer(["429", "200"]);
  const c = await client(srv.addr);
  const srv2 = faultServer(["429"]);
  const c2 = await client(srv2.addr, { retries: 2 });
  try {
    assert.deepEqual(await c.kvRead("secret", "x"), { key: "v" });
    assert.equal(srv.state.requests, 2);
    await assert.rejects(
      () => c2.kvRead("secret", "x"),
      (e: unknown) =>
        e instanceof VaultError && e.status === 429 && /rate limiting/.test(e.message),
    );
    assert.equal(srv2.state.requests, 3);
  } finally {
    c.close();
    c2.close();
    srv.close();
    srv2.close();
  }
});

Deno.test("4xx is never retried and the body is not echoed", async () => {
  for (const step of ["400", "403"] as const) {
    const srv = faultServer([step, "200"]);
    const c = await client(srv.addr);
    try {
      const err = await c.kvRead("secret", "x").then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof VaultError, String(err));
      assert.equal(err.status, Number(step));
      assert.doesNotMatch(err.message, /secret-looking body|hvs\.test/);
      assert.match(err.message, /^cannot read secret at "secret\/data\/x": /);
      assert.equal(srv.state.requests, 1);
    } finally {
      c.close();
      srv.close();
    }
  }
});

Deno.test("a hang longer than the timeout fails in bounded time", async () => {
  const srv = faultServer(["hang"]);
  const c = await client(srv.addr, { timeoutMs: 300, retries: 1 });
  const t0 = Date.now();
  try {
    await assert.rejects(() => c.kvRead("secret", "x"), /no answer from Vault .* within/);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(srv.state.requests, 2, "an idempotent read is tried again after a timeout");
  } finally {
    c.close();
    srv.close();
  }
});

Deno.test("a connection cut mid-answer: reads are retried, an unwrap is not", async () => {
  const srv = faultServer(["cut", "200"]);
  const c = await client(srv.addr);
  try {
    assert.deepEqual(await c.kvRead("secret", "x"), { key: "v" });
    assert.equal(srv.state.requests, 2);
  } finally {
    c.close();
    srv.close();
  }
  const srv2 = faultServer(["cut", "200"]);
  const c2 = await client(srv2.addr);
  try {
    await assert.rejects(
      () => c2.unwrap("hvs.wrapping"),
      (e: unknown) =>
        e instanceof VaultError && /connection .* was lost/.test(e.message) &&
        /may have been processed/.test(e.hint ?? ""),
    );
    assert.equal(
      srv2.state.requests,
      1,
      "unwrap consumes the token: repeating it would look like interception",
    );
  } finally {
    c2.close();
    srv2.close();
  }
});

Deno.test("connection refused is retried, then reported with a hint", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const c = await client(`http://127.0.0.1:${port}`, { retries: 1 });
  try {
    await assert.rejects(
      () => c.kvRead("secret", "x"),
      (e: unknown) =>
        e instanceof VaultError && /cannot connect to Vault/.test(e.message) &&
        /VAULT_ADDR/.test(e.hint ?? ""),
    );
    assert.equal(c.attempts, 2);
  } finally {
    c.close();
  }
});

Deno.test("the token, namespace and request marker travel only as headers", async () => {
  const srv = faultServer(["200"]);
  const c = await VaultClient.connect(
    { addr: srv.addr, namespace: "team-a/", backoffMs: 5 },
    "hvs.header-only",
  );
  try {
    await c.kvRead("secret", "x");
    const head = srv.state.heads[0]!;
    assert.match(head, /^GET \/v1\/secret\/data\/x HTTP\/1\.1\r\n/);
    assert.match(head, /\r\nx-vault-token: hvs\.header-only/i);
    assert.match(head, /\r\nx-vault-namespace: team-a\//i);
    assert.match(head, /\r\nx-vault-request: true/i);
  } finally {
    c.close();
    srv.close();
  }
});
