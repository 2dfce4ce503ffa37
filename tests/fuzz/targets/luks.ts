/**
 * LUKS2 headers (binary header and JSON area, both copies) as `data` commands
 * read them, with the key check token sealbatch stores. Mutations of the JSON
 * area and of the binary fields get a fresh checksum half of the time, so the
 * cases reach the JSON validation behind the checksum.
 */
import { createHash } from "node:crypto";
import { readLuksHeader } from "../../../src/luks/header.ts";
import { keycheckToken, keyMatchesCheck } from "../../../src/luks/keycheck.ts";
import { type FuzzTarget, type Mutator, MUTATORS, type Rng, utf8 } from "../_harness.ts";
import { caseFiles } from "../_targets.ts";

const UUID = "0f9ee1b4-5d1c-4c2e-9a53-3e0a55f6c0de";
const KEY = new Uint8Array(64).fill(0x5a);
const CSUM_LEN: Record<string, number> = { sha1: 20, sha256: 32, sha512: 64 };

function metadata(hdr: number, keyslotsSize: number) {
  return {
    keyslots: {
      "0": {
        type: "luks2",
        key_size: 64,
        area: {
          type: "raw",
          offset: String(2 * hdr),
          size: "4096",
          encryption: "aes-xts-plain64",
          key_size: 64,
        },
        kdf: { type: "pbkdf2", hash: "sha256", iterations: 1000, salt: "AAAA" },
        af: { type: "luks1", stripes: 4000, hash: "sha256" },
        priority: 1,
      },
    },
    tokens: { "0": keycheckToken(KEY, UUID) },
    segments: {
      "0": {
        type: "crypt",
        offset: String(2 * hdr + keyslotsSize),
        size: "dynamic",
        iv_tweak: "0",
        encryption: "aes-xts-plain64",
        sector_size: 4096,
      },
    },
    digests: { "0": { type: "pbkdf2", keyslots: ["0"], segments: ["0"], hash: "sha256" } },
    config: {
      json_size: String(hdr - 4096),
      keyslots_size: String(keyslotsSize),
      requirements: { mandatory: [] },
    },
  };
}

/** Header size (big-endian u64 at 8) of the copy at `at`, when it is a plausible one. */
function headerSize(img: Uint8Array, at: number): number | undefined {
  if (at + 16 > img.length) return undefined;
  const v = new DataView(img.buffer, img.byteOffset + at, 16).getBigUint64(8);
  return v >= 4096n && v <= 4n << 20n ? Number(v) : undefined;
}

/** Recompute the checksum of the copies at 0 and at the header size, as cryptsetup writes it. */
function fixChecksums(img: Uint8Array): Uint8Array {
  const out = img.slice();
  const size = headerSize(out, 0);
  for (const at of [0, size ?? -1]) {
    const n = at < 0 ? undefined : headerSize(out, at);
    if (n === undefined || at + n > out.length) continue;
    const h = out.subarray(at, at + n);
    const alg = new TextDecoder().decode(h.subarray(72, 104)).replace(/\0.*$/s, "");
    if (!(alg in CSUM_LEN)) continue;
    h.fill(0, 448, 512);
    h.set(createHash(alg).update(h).digest(), 448);
  }
  return out;
}

/** A LUKS2 container: both header copies, the key slot area and `data` bytes. */
export function luksContainer(
  opts: { hdr?: number; alg?: string; keyslotsSize?: number; data?: number; meta?: unknown } = {},
): Uint8Array {
  const hdr = opts.hdr ?? 16384;
  const keyslotsSize = opts.keyslotsSize ?? 16384;
  const img = new Uint8Array(2 * hdr + keyslotsSize + (opts.data ?? 4096));
  const text = utf8(JSON.stringify(opts.meta ?? metadata(hdr, keyslotsSize)));
  for (const [at, magic] of [[0, "LUKS"], [hdr, "SKUL"]] as const) {
    const h = img.subarray(at, at + hdr);
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
    h.set(utf8(magic), 0);
    h.set([0xba, 0xbe, 0, 2], 4);
    view.setBigUint64(8, BigInt(hdr));
    view.setBigUint64(16, 3n);
    h.set(utf8("fuzz"), 24);
    h.set(utf8(opts.alg ?? "sha256"), 72);
    h.set(utf8(UUID), 168);
    view.setBigUint64(256, BigInt(at));
    h.set(text.subarray(0, hdr - 4097), 4096);
  }
  return fixChecksums(img);
}

/** Mutate the primary copy's JSON text (and sometimes copy it to the secondary). */
export const jsonArea: Mutator = (rng, img, ctx) => {
  const size = headerSize(img, 0);
  if (size === undefined || size > img.length) return img;
  const area = img.subarray(4096, size);
  const end = area.indexOf(0);
  let json = area.subarray(0, end < 0 ? area.length : end);
  for (let n = 1 + rng.int(3); n > 0; n--) {
    json = rng.pick(MUTATORS)(rng, json, { ...ctx, maxBytes: area.length });
  }
  const out = img.slice();
  out.fill(0, 4096, size);
  out.set(json.subarray(0, area.length), 4096);
  if (rng.chance(0.5) && 2 * size <= out.length) out.copyWithin(size + 4096, 4096, size);
  return rng.chance(0.8) ? fixChecksums(out) : out;
};

/** Binary header fields set to edge values. */
const binaryFields: Mutator = (rng: Rng, img) => {
  const out = img.slice();
  const base = rng.chance(0.7) ? 0 : headerSize(img, 0) ?? 0;
  if (base + 512 > out.length) return img;
  const view = new DataView(out.buffer, out.byteOffset + base, 512);
  const field = rng.pick([6, 8, 16, 72, 256, 168]);
  const big = [0n, 1n, 4096n, 16383n, 16384n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
  if (field === 6) view.setUint16(6, rng.pick([0, 1, 2, 3, 0xffff]));
  else if (field === 72) {
    out.fill(0, base + 72, base + 104);
    out.set(utf8(rng.pick(["sha1", "sha512", "md5", "whirlpool", "x".repeat(32), ""])), base + 72);
  } else if (field === 168) out.set(rng.bytes(40), base + 168);
  else view.setBigUint64(field, rng.pick(big));
  return rng.chance(0.8) ? fixChecksums(out) : out;
};

const TOKENS = [
  '"dynamic"',
  '"18446744073709551615"',
  '"999999999999999"',
  '"-1"',
  "null",
  "{}",
  "[]",
  '{"toString":1,"valueOf":1}',
  '"reencrypt"',
  '"sector_size":513,',
  '"hmac-sha256":1,',
  '"type":"sealbatch-keycheck",',
  "\\u0000",
];

export async function makeTarget(name: string): Promise<FuzzTarget> {
  const files = await caseFiles(name);
  return {
    name,
    seeds: [
      luksContainer(),
      luksContainer({ alg: "sha512", hdr: 32768 }),
      luksContainer({ alg: "sha1", data: 0 }),
    ],
    tokens: TOKENS,
    mutators: [jsonArea, jsonArea, binaryFields],
    maxBytes: 256 * 1024,
    exitCodes: [3],
    async run(input) {
      const header = await readLuksHeader(await files.write("c.img", input));
      return keyMatchesCheck(header, KEY);
    },
    close: files.remove,
  };
}
