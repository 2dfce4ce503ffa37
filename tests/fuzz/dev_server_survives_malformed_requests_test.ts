/**
 * The development server (a stand-in for Vault) on loopback: seeded
 * malformed requests (broken request lines, headers, escapes, chunked and
 * JSON bodies, fields of the wrong type) are answered below 500 or the
 * connection is closed, and it keeps answering; a huge declared body is
 * refused without being allocated; a slow body holds only its own
 * connection.
 */
import assert from "node:assert/strict";
import { startDevServer } from "../../src/kms/dev_server.ts";
import { fuzzTargets } from "./_harness.ts";

Deno.test("malformed requests are answered below 500 or closed, and the server keeps answering", async () => {
  await fuzzTargets(["dev-server-http"]);
});

const enc = new TextEncoder();

async function send(port: number, text: string, opts: { close?: boolean } = {}): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(text));
    if (opts.close) await conn.closeWrite();
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    conn.close();
  }
}

const HEALTH = "GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

Deno.test("a huge declared Content-Length is refused with 413 before any body is read", async () => {
  const server = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: "hvs.root" });
  try {
    const port = Number(new URL(server.addr).port);
    const before = Deno.memoryUsage();
    for (const length of ["99999999999", "1048577", String(2 ** 53)]) {
      const answer = await send(
        port,
        `POST /v1/secret/data/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: hvs.root\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"data":`,
      );
      assert.match(answer, /^HTTP\/1\.1 413 /, `Content-Length ${length}: ${answer.slice(0, 60)}`);
    }
    const after = Deno.memoryUsage();
    const grown = after.heapUsed + after.external - before.heapUsed - before.external;
    assert.ok(grown < 64 * 1024 * 1024, `memory grew by ${grown} bytes`);
    assert.match(await send(port, HEALTH), /^HTTP\/1\.1 200 /);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a body sent a byte at a time does not stop the server answering others", async () => {
  const server = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: "hvs.root" });
  try {
    const port = Number(new URL(server.addr).port);
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await slow.write(enc.encode(
        "POST /v1/secret/data/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: hvs.root\r\n" +
          "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
      ));
      // 20 bytes over about a second, a health check after each: all answered meanwhile.
      for (let i = 0; i < 20; i++) {
        await slow.write(enc.encode(i === 0 ? "{" : " "));
        assert.match(await send(port, HEALTH), /^HTTP\/1\.1 200 /);
        await new Promise((r) => setTimeout(r, 50));
      }
      // The slow client gives up half-way: its request fails (or is dropped), the server stays up.
      await slow.closeWrite();
      const buf = new Uint8Array(1024);
      const n = await slow.read(buf).catch(() => null);
      const answer = n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
      assert.ok(answer === "" || /^HTTP\/1\.1 4\d\d /.test(answer), answer.slice(0, 80));
    } finally {
      slow.close();
    }
    assert.match(await send(port, HEALTH), /^HTTP\/1\.1 200 /);
  } finally {
    await server.shutdown();
  }
});
