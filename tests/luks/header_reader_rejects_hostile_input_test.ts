import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readLuksHeader } from "../../src/luks/header.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";

const HDR = 16384;

/** A minimal valid LUKS2 header pair (primary + secondary) followed by `data` bytes. */
function container(json: unknown, opts: { hdrSize?: number; data?: number } = {}): Uint8Array {
  const size = opts.hdrSize ?? HDR;
  const dataOffset = 2 * HDR + 16384;
  const img = new Uint8Array(dataOffset + (opts.data ?? 8192));
  const text = new TextEncoder().encode(JSON.stringify(json));
  for (const [at, magic] of [[0, "LUKS"], [HDR, "SKUL"]] as const) {
    const h = img.subarray(at, at + HDR);
    h.set(new TextEncoder().encode(magic), 0);
    h.set([0xba, 0xbe, 0, 2], 4);
    new DataView(h.buffer, h.byteOffset).setBigUint64(8, BigInt(size));
    new DataView(h.buffer, h.byteOffset).setBigUint64(16, 1n);
    h.set(new TextEncoder().encode("sha256"), 72);
    h.set(new TextEncoder().encode("0f9ee1b4-5d1c-4c2e-9a53-3e0a55f6c0de"), 168);
    new DataView(h.buffer, h.byteOffset).setBigUint64(256, BigInt(at));
    h.set(text.subarray(0, Math.min(text.length, HDR - 4097)), 4096);
    h.set(createHash("sha256").update(h.subarray(0, Math.min(size, HDR))).digest(), 448);
  }
  return img;
}

const META = {
  keyslots: {
    "0": {
      type: "luks2",
      key_size: 64,
      area: { type: "raw", offset: "32768", size: "4096" },
      kdf: { type: "pbkdf2" },
    },
  },
  tokens: {},
  segments: {
    "0": {
      type: "crypt",
      offset: String(2 * HDR + 16384),
      size: "dynamic",
      encryption: "aes-xts-plain64",
      sector_size: 4096,
    },
  },
  digests: {},
  config: { json_size: String(HDR - 4096), keyslots_size: "16384" },
};

function flip(img: Uint8Array, at: number): void {
  img[at] = (img[at] ?? 0) ^ 0xff;
}

async function read(bytes: Uint8Array) {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/x.img`, bytes);
  return await readLuksHeader(`${dir.path}/x.img`);
}

async function rejects(bytes: Uint8Array, message: RegExp) {
  await assert.rejects(() => read(bytes), (e: unknown) => {
    assert.ok(e instanceof SealbatchError, String(e));
    assert.equal(e.kind, "input");
    assert.match(e.message, message);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
}

Deno.test("a well-formed header is read with its facts", async () => {
  const h = await read(container(META));
  assert.equal(h.copy, "primary");
  assert.equal(h.sectorSize, 4096);
  assert.equal(h.cipher, "aes-xts-plain64");
  assert.equal(h.dataOffset, 2 * HDR + 16384);
  assert.equal(h.dataSize, 8192);
  assert.equal(h.uuid, "0f9ee1b4-5d1c-4c2e-9a53-3e0a55f6c0de");
  assert.deepEqual(h.keyslots.map((k) => k.kdf), ["pbkdf2"]);
});

Deno.test("a damaged primary falls back to the secondary copy and says so", async () => {
  const img = container(META);
  flip(img, 4096 + 3); // inside the primary JSON: checksum no longer matches
  const h = await read(img);
  assert.equal(h.copy, "secondary");
  assert.match(h.primaryProblem ?? "", /checksum mismatch/);
});

Deno.test("both copies damaged: the header is reported damaged", async () => {
  const img = container(META);
  flip(img, 4096 + 3);
  flip(img, HDR + 4096 + 3);
  await rejects(img, /the LUKS2 header is damaged \(checksum mismatch\)/);
});

Deno.test("empty, tiny and random files are not LUKS", async () => {
  await rejects(new Uint8Array(), /not a LUKS container/);
  await rejects(new Uint8Array([0x4c, 0x55]), /not a LUKS container/);
  await rejects(crypto.getRandomValues(new Uint8Array(65536)), /not a LUKS container/);
});

Deno.test("a header size outside the allowed set is refused before reading it", async () => {
  const img = container(META);
  new DataView(img.buffer).setBigUint64(8, 2n ** 62n);
  new DataView(img.buffer).setBigUint64(HDR + 8, 2n ** 62n);
  await rejects(img, /header is damaged \(a size field is out of range|invalid header size/);
});

Deno.test("JSON that is not JSON, not terminated or missing sections is refused", async () => {
  await rejects(container("x".repeat(20000)), /damaged|not valid JSON|not terminated/);
  await rejects(container({ keyslots: {} }), /metadata segments is not an object/);
  const noData = structuredClone(META);
  noData.segments["0"].offset = "99999999999";
  await rejects(container(noData), /truncated: the data starts at byte 99999999999/);
});

Deno.test("a key slot beyond the end of the file means truncated", async () => {
  const far = structuredClone(META);
  far.keyslots["0"].area.offset = "1000000000";
  await rejects(container(far), /the container is truncated/);
});

Deno.test("a fifo given as container is refused without blocking on open", async () => {
  await using dir = await tempDir();
  const fifo = `${dir.path}/c.img`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  await assert.rejects(() => readLuksHeader(fifo), /not a regular file/);
});
