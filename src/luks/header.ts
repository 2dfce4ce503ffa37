/**
 * A pure-TypeScript reader for LUKS2 headers (on-disk format 1.1.4): the facts
 * `data inspect` shows without a key, and the checks every command runs before
 * it hands a file to cryptsetup. Input is hostile: sizes are checked before
 * anything is allocated, the checksum is verified, and the JSON is validated.
 */
import { createHash } from "node:crypto";
import { inputError, q, SealbatchError } from "../util/errors.ts";

const MAGIC_PRIMARY = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]; // "LUKS\xba\xbe"
const MAGIC_SECONDARY = [0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]; // "SKUL\xba\xbe"
const BINARY_HEADER = 4096;
/** The only header sizes the format allows (binary header + JSON area). */
const HEADER_SIZES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((k) => k * 1024);
const CHECKSUMS: Record<string, number> = { sha1: 20, sha256: 32, sha512: 64 };

export interface Keyslot {
  id: string;
  type: string;
  keySize: number;
  kdf: string;
  priority: number;
  areaOffset: number;
  areaSize: number;
}

export interface LuksHeader {
  version: 2;
  uuid: string;
  label: string;
  headerSize: number;
  seqid: number;
  /** Which copy was valid: cryptsetup uses the secondary when the primary is damaged. */
  copy: "primary" | "secondary";
  /** Why the primary copy was rejected, when the secondary was used. */
  primaryProblem: string | undefined;
  cipher: string;
  sectorSize: number;
  dataOffset: number;
  /** Bytes of encrypted data in this file ("dynamic" segments run to the end). */
  dataSize: number;
  fileSize: number;
  keyslots: Keyslot[];
  tokens: { id: string; type: string; json: Record<string, unknown> }[];
  requirements: string[];
}

/** A file that is not a usable LUKS2 container, with the reason as its message. */
class HeaderProblem extends Error {}

function matches(bytes: Uint8Array, at: number, magic: number[]): boolean {
  return magic.every((b, i) => bytes[at + i] === b);
}

function cString(bytes: Uint8Array, at: number, len: number): string {
  const field = bytes.subarray(at, at + len);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new HeaderProblem("a size field is out of range");
  return Number(v);
}

/** Up to `len` bytes from `offset` (fewer at the end of the file). */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  len: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(len);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < len) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

type Json = Record<string, unknown>;

function obj(v: unknown, where: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new HeaderProblem(`metadata ${where} is not an object`);
  }
  return v as Json;
}

/** uint64 values are decimal strings in LUKS2 JSON. */
function num(v: unknown, where: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === "string" && /^\d{1,15}$/.test(v)) return Number(v);
  throw new HeaderProblem(`metadata ${where} is not a valid number`);
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string" || v.length > 256) {
    throw new HeaderProblem(`metadata ${where} is not a valid string`);
  }
  return v;
}

interface ParsedCopy {
  seqid: number;
  headerSize: number;
  uuid: string;
  label: string;
  json: Json;
}

/** Parse and verify one header copy found at `offset`. */
async function parseCopy(
  file: Deno.FsFile,
  offset: number,
  fileSize: number,
  magic: number[],
): Promise<ParsedCopy> {
  const bin = await readAt(file, offset, BINARY_HEADER);
  if (bin.length < BINARY_HEADER) throw new HeaderProblem("the file ends inside the header");
  if (!matches(bin, 0, magic)) throw new HeaderProblem("bad magic");
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const version = view.getUint16(6);
  if (version !== 2) throw new HeaderProblem(`unsupported LUKS version ${version}`);
  const headerSize = u64(view, 8);
  if (!HEADER_SIZES.includes(headerSize)) {
    throw new HeaderProblem(`invalid header size ${headerSize}`);
  }
  if (u64(view, 256) !== offset) throw new HeaderProblem("header offset field does not match");
  if (offset + headerSize > fileSize) throw new HeaderProblem("the file ends inside the header");
  const alg = cString(bin, 72, 32);
  const csumLen = CHECKSUMS[alg];
  if (csumLen === undefined) throw new HeaderProblem(`unsupported checksum ${q(alg)}`);
  const whole = await readAt(file, offset, headerSize);
  const stored = whole.slice(448, 448 + csumLen);
  whole.fill(0, 448, 448 + 64);
  const actual = createHash(alg).update(whole).digest();
  if (!stored.every((b, i) => b === actual[i])) throw new HeaderProblem("checksum mismatch");
  const area = whole.subarray(BINARY_HEADER);
  const end = area.indexOf(0);
  if (end <= 0) throw new HeaderProblem("metadata JSON is missing or not terminated");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(area.subarray(0, end)));
  } catch {
    throw new HeaderProblem("metadata is not valid JSON");
  }
  return {
    seqid: u64(view, 16),
    headerSize,
    uuid: cString(bin, 168, 40),
    label: cString(bin, 24, 48),
    json: obj(json, "root"),
  };
}

function describe(copy: ParsedCopy, fileSize: number): Omit<
  LuksHeader,
  "copy" | "primaryProblem"
> {
  const root = copy.json;
  for (const key of ["keyslots", "segments", "digests", "config", "tokens"]) {
    obj(root[key], key);
  }
  const config = obj(root.config, "config");
  if (num(config.json_size, "config.json_size") !== copy.headerSize - BINARY_HEADER) {
    throw new HeaderProblem("metadata json_size does not match the header size");
  }
  const keyslotsEnd = 2 * copy.headerSize + num(config.keyslots_size, "config.keyslots_size");

  const segments = obj(root.segments, "segments");
  const first = Object.keys(segments).sort((a, b) => Number(a) - Number(b))[0];
  if (first === undefined) throw new HeaderProblem("metadata has no data segment");
  const seg = obj(segments[first], `segments.${first}`);
  if (seg.type !== "crypt") {
    throw new HeaderProblem(`data segment type ${q(seg.type)} (an unfinished reencryption?)`);
  }
  const dataOffset = num(seg.offset, "segment offset");
  const sectorSize = num(seg.sector_size, "segment sector_size");
  if (![512, 1024, 2048, 4096].includes(sectorSize)) {
    throw new HeaderProblem(`invalid sector size ${sectorSize}`);
  }
  if (dataOffset < keyslotsEnd && dataOffset !== 0) {
    throw new HeaderProblem("data segment overlaps the key slot area");
  }
  if (dataOffset > fileSize) {
    throw new HeaderProblem(
      `truncated: the data starts at byte ${dataOffset} but the file has ${fileSize} bytes`,
    );
  }
  const dataSize = seg.size === "dynamic" ? fileSize - dataOffset : num(seg.size, "segment size");
  if (dataOffset + dataSize > fileSize) {
    throw new HeaderProblem(
      `truncated: the data segment needs ${dataOffset + dataSize} bytes, the file has ${fileSize}`,
    );
  }

  const keyslots: Keyslot[] = [];
  for (const [id, raw] of Object.entries(obj(root.keyslots, "keyslots"))) {
    const ks = obj(raw, `keyslots.${id}`);
    const area = obj(ks.area, `keyslots.${id}.area`);
    const kdf = obj(ks.kdf, `keyslots.${id}.kdf`);
    const slot: Keyslot = {
      id,
      type: str(ks.type, `keyslots.${id}.type`),
      keySize: num(ks.key_size, `keyslots.${id}.key_size`),
      kdf: str(kdf.type, `keyslots.${id}.kdf.type`),
      priority: ks.priority === undefined ? 1 : num(ks.priority, `keyslots.${id}.priority`),
      areaOffset: area.offset === undefined ? 0 : num(area.offset, `keyslots.${id}.area.offset`),
      areaSize: area.size === undefined ? 0 : num(area.size, `keyslots.${id}.area.size`),
    };
    if (slot.areaOffset + slot.areaSize > fileSize) {
      throw new HeaderProblem(`truncated: key slot ${id} lies beyond the end of the file`);
    }
    keyslots.push(slot);
  }
  const tokens = Object.entries(obj(root.tokens, "tokens")).map(([id, raw]) => {
    const json = obj(raw, `tokens.${id}`);
    return { id, type: str(json.type, `tokens.${id}.type`), json };
  });
  const reqs = config.requirements === undefined
    ? {}
    : obj(config.requirements, "config.requirements");
  const mandatory = Array.isArray(reqs.mandatory)
    ? reqs.mandatory.map((r, i) => str(r, `config.requirements.mandatory.${i}`))
    : [];
  return {
    version: 2,
    uuid: copy.uuid,
    label: copy.label,
    headerSize: copy.headerSize,
    seqid: copy.seqid,
    cipher: str(seg.encryption, "segment encryption"),
    sectorSize,
    dataOffset,
    dataSize,
    fileSize,
    keyslots,
    tokens,
    requirements: mandatory,
  };
}

/**
 * Read and validate the LUKS2 header of `path`. Throws an input error that
 * says which of "not LUKS", "LUKS1", "truncated" or "damaged" applies.
 */
export async function readLuksHeader(path: string): Promise<LuksHeader> {
  let file: Deno.FsFile;
  try {
    // Check the type first: opening a FIFO would block until a writer appears.
    if (!(await Deno.stat(path)).isFile) {
      throw inputError(`cannot use ${q(path)}: not a regular file`);
    }
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof SealbatchError) throw err;
    if (err instanceof Deno.errors.NotFound) {
      throw inputError(`cannot read ${q(path)}: no such file`);
    }
    throw inputError(`cannot read ${q(path)}: ${(err as Error).message}`);
  }
  try {
    const info = await file.stat();
    if (!info.isFile) throw inputError(`cannot use ${q(path)}: not a regular file`);
    const fileSize = info.size;
    const start = await readAt(file, 0, 8);
    const primaryMagic = start.length >= 6 && matches(start, 0, MAGIC_PRIMARY);
    if (primaryMagic && start.length === 8 && new DataView(start.buffer).getUint16(6) === 1) {
      throw inputError(`cannot use ${q(path)}: it is a LUKS1 container; sealbatch needs LUKS2`, {
        hint: `convert it with: cryptsetup convert --type luks2 ${path}`,
      });
    }
    let primaryProblem: string | undefined;
    try {
      const copy = await parseCopy(file, 0, fileSize, MAGIC_PRIMARY);
      return { ...describe(copy, fileSize), copy: "primary", primaryProblem: undefined };
    } catch (err) {
      if (!(err instanceof HeaderProblem)) throw err;
      primaryProblem = err.message;
    }
    // Like cryptsetup, fall back to the secondary copy at one of the allowed offsets.
    for (const offset of HEADER_SIZES) {
      if (offset + BINARY_HEADER > fileSize) break;
      const magic = await readAt(file, offset, 6);
      if (!matches(magic, 0, MAGIC_SECONDARY)) continue;
      try {
        const copy = await parseCopy(file, offset, fileSize, MAGIC_SECONDARY);
        return { ...describe(copy, fileSize), copy: "secondary", primaryProblem };
      } catch (err) {
        if (!(err instanceof HeaderProblem)) throw err;
      }
    }
    if (!primaryMagic) {
      throw inputError(`cannot use ${q(path)}: not a LUKS container (no LUKS header found)`);
    }
    if (primaryProblem.startsWith("truncated") || primaryProblem.startsWith("the file ends")) {
      throw inputError(`cannot use ${q(path)}: the container is truncated (${primaryProblem})`, {
        hint: "the file is shorter than its header says; copy or download it again",
      });
    }
    throw inputError(`cannot use ${q(path)}: the LUKS2 header is damaged (${primaryProblem})`);
  } finally {
    file.close();
  }
}
