/**
 * The content scan that runs over every uploaded byte: each private-key
 * marker (PEM, OpenPGP, binary OpenSSH) is found wherever it sits, also split
 * across chunk boundaries of any size; a marker with one byte changed, and
 * random or zero data, are not.
 */
import assert from "node:assert/strict";
import { KeyScanner } from "../../src/remote/transfer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const MARKERS: [string, Uint8Array][] = [
  ["PRIVATE KEY-----", enc("-----BEGIN RSA PRIVATE KEY-----")],
  ["PRIVATE KEY-----", enc("-----BEGIN OPENSSH PRIVATE KEY-----")],
  ["PRIVATE KEY BLOCK-----", enc("-----BEGIN PGP PRIVATE KEY BLOCK-----")],
  ["openssh-key-v1", enc("openssh-key-v1\0\0\0\0\x04none")],
];

function random(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
  return data;
}

function scan(data: Uint8Array, chunk: number): string | undefined {
  const scanner = new KeyScanner();
  for (let o = 0; o < data.length && !scanner.found; o += chunk) {
    scanner.push(data.subarray(o, o + chunk));
  }
  return scanner.found;
}

Deno.test("each marker is found at every offset around a chunk boundary", () => {
  const chunk = 4096;
  for (const [name, marker] of MARKERS) {
    for (let at = chunk - marker.length - 1; at <= chunk + 1; at++) {
      const data = random(3 * chunk);
      data.set(marker, at);
      assert.equal(scan(data, chunk), name, `${name} at ${at}`);
    }
  }
});

Deno.test("markers are found with tiny chunks, at the very start and the very end", () => {
  for (const [name, marker] of MARKERS) {
    for (const chunk of [1, 2, 7, 15, 16, 21, 22, 23]) {
      const head = new Uint8Array(100);
      head.set(marker, 0);
      assert.equal(scan(head, chunk), name, `${name} first, chunks of ${chunk}`);
      const tail = random(100);
      tail.set(marker, 100 - marker.length);
      assert.equal(scan(tail, chunk), name, `${name} last, chunks of ${chunk}`);
    }
  }
});

Deno.test("near misses, random and zero data are not key material", () => {
  // Exactly what the scan matches, with any one byte changed.
  for (const text of ["PRIVATE KEY-----", "PRIVATE KEY BLOCK-----", "openssh-key-v1\0"]) {
    for (let k = 0; k < text.length; k++) {
      const miss = enc(text);
      miss[k] = miss[k]! ^ 0x20;
      const data = random(1000);
      data.set(miss, 500);
      assert.equal(scan(data, 1000), undefined, `${JSON.stringify(text)} changed at ${k}`);
    }
  }
  assert.equal(scan(random(8 << 20), 1 << 20), undefined);
  assert.equal(scan(new Uint8Array(4 << 20), 1 << 20), undefined);
  assert.equal(scan(enc("-----BEGIN PUBLIC KEY----- PRIVATE KEY -- openssh-key-v1"), 7), undefined);
});
