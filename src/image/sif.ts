/**
 * SIF (Singularity Image Format) reader, pure TypeScript, for files nobody
 * vouches for: every count, offset and size is checked against the real file
 * size and fixed limits before anything is allocated or read. Layout:
 * 128-byte global header, a table of 585-byte descriptors, then data objects
 * (all integers little-endian).
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";

export const HEADER_SIZE = 128;
export const DESCRIPTOR_SIZE = 585;
export const MAGIC = "SIF_MAGIC\0";
export const VERSION = "01\0";
/** Go's zero time.Time as Unix seconds: what deterministic SIF files store. */
export const GO_ZERO_TIME = -62135596800;
/** Apptainer creates 48 slots; far more is not a real image and must not cost memory. */
export const MAX_DESCRIPTORS = 4096;

export const DataType = {
  Deffile: 0x4001,
  EnvVar: 0x4002,
  Labels: 0x4003,
  Partition: 0x4004,
  Signature: 0x4005,
  GenericJSON: 0x4006,
  Generic: 0x4007,
  CryptoMessage: 0x4008,
  SBOM: 0x4009,
  OCIRootIndex: 0x400a,
  OCIBlob: 0x400b,
} as const;

const DATA_TYPE_NAMES: Record<number, string> = {
  0x4001: "Def.FILE",
  0x4002: "Env.Vars",
  0x4003: "JSON.Labels",
  0x4004: "FS",
  0x4005: "Signature",
  0x4006: "JSON.Generic",
  0x4007: "Generic/Raw",
  0x4008: "Cryptographic Message",
  0x4009: "SBOM",
  0x400a: "OCI.RootIndex",
  0x400b: "OCI.Blob",
};

export const FsType = {
  Squashfs: 1,
  Ext3: 2,
  ImmuObj: 3,
  Raw: 4,
  EncryptedSquashfs: 5,
  GocryptfsSquashfs: 6,
} as const;

const FS_TYPE_NAMES: Record<number, string> = {
  1: "Squashfs",
  2: "Ext3",
  3: "Archive",
  4: "Raw",
  5: "Encrypted squashfs",
  6: "Gocryptfs squashfs",
};

export const PartType = { System: 1, PrimSys: 2, Data: 3, Overlay: 4 } as const;
const PART_TYPE_NAMES: Record<number, string> = {
  1: "System",
  2: "*System",
  3: "Data",
  4: "Overlay",
};

export const CryptoFormat = { OpenPGP: 1, PEM: 2 } as const;
export const CryptoMessageType = { ClearSignature: 0x100, RSAOAEP: 0x200 } as const;

/** SIF arch codes (two ASCII digits) <-> Go architecture names. */
export const ARCHES: Record<string, string> = {
  "00": "unknown",
  "01": "386",
  "02": "amd64",
  "03": "arm",
  "04": "arm64",
  "05": "ppc64",
  "06": "ppc64le",
  "07": "mips",
  "08": "mipsle",
  "09": "mips64",
  "10": "mips64le",
  "11": "s390x",
  "12": "riscv64",
  "13": "loong64",
};

export function archCode(name: string): string {
  const code = Object.entries(ARCHES).find(([, n]) => n === name)?.[0];
  if (code === undefined) throw inputError(`unknown SIF architecture ${q(name)}`);
  return code;
}

export const dataTypeName = (t: number) => DATA_TYPE_NAMES[t] ?? `unknown (0x${t.toString(16)})`;
export const fsTypeName = (t: number) => FS_TYPE_NAMES[t] ?? `unknown (${t})`;
export const partTypeName = (t: number) => PART_TYPE_NAMES[t] ?? `unknown (${t})`;

export interface SifHeader {
  launchScript: string;
  version: string;
  /** Go architecture name from the header ("amd64"), "unknown" for 00. */
  arch: string;
  /** UUID text, or null when all zero (deterministic images). */
  id: string | null;
  createdAt: number;
  modifiedAt: number;
  descriptorsFree: number;
  descriptorsTotal: number;
  descriptorsOffset: number;
  descriptorsSize: number;
  dataOffset: number;
  dataSize: number;
}

export interface PartitionInfo {
  fsType: number;
  partType: number;
  arch: string;
}

export interface CryptoMessageInfo {
  format: number;
  messageType: number;
}

export interface SifDescriptor {
  dataType: number;
  id: number;
  /** Group number without the 0xF0000000 flag; null when in no group. */
  groupId: number | null;
  /** Linked object ID, or null. */
  linkedId: number | null;
  /** Linked group number, or null. */
  linkedGroup: number | null;
  offset: number;
  size: number;
  sizeWithPadding: number;
  createdAt: number;
  modifiedAt: number;
  name: string;
  partition?: PartitionInfo;
  cryptoMessage?: CryptoMessageInfo;
}

export interface SifImage {
  path: string;
  fileSize: number;
  header: SifHeader;
  /** Used descriptors, in table order. */
  descriptors: SifDescriptor[];
}

const GROUP_FLAG = 0xf0000000;

function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function uuidText(bytes: Uint8Array): string | null {
  if (bytes.every((b) => b === 0)) return null;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** Read a little-endian int64 as a safe integer, or fail with the field's name. */
function int64(view: DataView, at: number, field: string, where: string): number {
  const v = view.getBigInt64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw inputError(`${where}: ${field} ${v} is out of range`);
  }
  return Number(v);
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  if (got !== length) throw inputError(`short read at offset ${offset} (file changed?)`);
  return buf;
}

/** An open SIF file: parsed header and descriptors, and bounded reads of object data. */
export class SifReader implements AsyncDisposable {
  private constructor(private readonly file: Deno.FsFile, readonly image: SifImage) {}

  static async open(path: string): Promise<SifReader> {
    let file: Deno.FsFile;
    let info: Deno.FileInfo;
    try {
      // stat before open: opening a FIFO for reading would block until a writer appears.
      if (!(await Deno.stat(path)).isFile) {
        throw inputError(`cannot read image ${q(path)}: not a regular file`);
      }
      file = await Deno.open(path, { read: true });
      info = await file.stat();
    } catch (err) {
      if (err instanceof SealbatchError) throw err;
      if (err instanceof Deno.errors.NotFound) {
        throw inputError(`cannot read image ${q(path)}: no such file`);
      }
      throw inputError(`cannot read image ${q(path)}: ${(err as Error).message}`);
    }
    try {
      const image = await parse(file, path, info.size);
      return new SifReader(file, image);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** The first `max` bytes of an object's data (all of it when smaller). */
  prefix(d: SifDescriptor, max: number): Promise<Uint8Array> {
    return readAt(this.file, d.offset, Math.min(d.size, max));
  }

  /** An object's whole data, refused when larger than `max` bytes. */
  async data(d: SifDescriptor, max: number, what: string): Promise<Uint8Array> {
    if (d.size > max) {
      throw inputError(
        `image ${
          q(this.image.path)
        }: ${what} (object ${d.id}) is ${d.size} bytes, more than the ${max} allowed`,
      );
    }
    return await readAt(this.file, d.offset, d.size);
  }

  /** Copy `length` bytes of an object's data, from its start, to a new file. */
  async copyPrefixTo(d: SifDescriptor, length: number, dest: string): Promise<void> {
    const out = await Deno.open(dest, { createNew: true, write: true, mode: 0o600 });
    try {
      let left = Math.min(length, d.size);
      let pos = d.offset;
      const chunk = 1 << 20;
      while (left > 0) {
        const part = await readAt(this.file, pos, Math.min(chunk, left));
        let written = 0;
        while (written < part.length) written += await out.write(part.subarray(written));
        pos += part.length;
        left -= part.length;
      }
    } finally {
      out.close();
    }
  }

  close(): void {
    this.file.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

async function parse(file: Deno.FsFile, path: string, fileSize: number): Promise<SifImage> {
  const where = `image ${q(path)}`;
  if (fileSize < HEADER_SIZE) {
    throw inputError(
      `${where} is not a SIF image: truncated header (${fileSize} of ${HEADER_SIZE} bytes)`,
    );
  }
  const raw = await readAt(file, 0, HEADER_SIZE);
  if (new TextDecoder().decode(raw.subarray(32, 42)) !== MAGIC) {
    throw inputError(`${where} is not a SIF image: invalid magic`);
  }
  const version = raw.subarray(42, 45);
  if (new TextDecoder().decode(version) !== VERSION) {
    throw inputError(
      `${where}: unsupported SIF version ${q(cString(version))} (only version 01 is known)`,
    );
  }
  const view = new DataView(raw.buffer);
  const h = (at: number, field: string) => int64(view, at, field, where);
  const header: SifHeader = {
    launchScript: cString(raw.subarray(0, 32)),
    version: "01",
    arch: ARCHES[cString(raw.subarray(45, 48))] ?? "unknown",
    id: uuidText(raw.subarray(48, 64)),
    createdAt: h(64, "creation time"),
    modifiedAt: h(72, "modification time"),
    descriptorsFree: h(80, "free descriptor count"),
    descriptorsTotal: h(88, "descriptor count"),
    descriptorsOffset: h(96, "descriptor offset"),
    descriptorsSize: h(104, "descriptor table size"),
    dataOffset: h(112, "data offset"),
    dataSize: h(120, "data size"),
  };
  const { descriptorsTotal: total, descriptorsOffset: descOff } = header;
  if (total < 0 || total > MAX_DESCRIPTORS) {
    throw inputError(`${where}: descriptor count ${total} is outside 0..${MAX_DESCRIPTORS}`);
  }
  if (header.descriptorsFree < 0 || header.descriptorsFree > total) {
    throw inputError(
      `${where}: free descriptor count ${header.descriptorsFree} exceeds the total ${total}`,
    );
  }
  const tableSize = total * DESCRIPTOR_SIZE;
  if (descOff < HEADER_SIZE || descOff + tableSize > fileSize) {
    throw inputError(
      `${where}: descriptor table (offset ${descOff}, ${total} entries) lies outside the file (${fileSize} bytes)`,
    );
  }
  if (header.dataOffset < descOff + tableSize || header.dataOffset > fileSize) {
    throw inputError(
      `${where}: data offset ${header.dataOffset} overlaps the descriptor table or lies beyond the file`,
    );
  }
  if (header.dataSize < 0 || header.dataOffset + header.dataSize > fileSize) {
    throw inputError(
      `${where}: data section (${header.dataSize} bytes at ${header.dataOffset}) extends beyond the end of the file (${fileSize} bytes)`,
    );
  }

  const table = await readAt(file, descOff, tableSize);
  const tview = new DataView(table.buffer);
  const descriptors: SifDescriptor[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < total; i++) {
    const at = i * DESCRIPTOR_SIZE;
    if (table[at + 4] === 0) continue;
    const dwhere = `${where}: object in slot ${i + 1}`;
    const d64 = (off: number, field: string) => int64(tview, at + off, field, dwhere);
    const group = tview.getUint32(at + 9, true);
    const link = tview.getUint32(at + 13, true);
    const d: SifDescriptor = {
      dataType: tview.getInt32(at, true),
      id: tview.getUint32(at + 5, true),
      groupId: group === 0 ? null : (group & ~GROUP_FLAG) >>> 0,
      linkedId: link === 0 || (link & GROUP_FLAG) === GROUP_FLAG ? null : link,
      linkedGroup: (link & GROUP_FLAG) === GROUP_FLAG ? (link & ~GROUP_FLAG) >>> 0 : null,
      offset: d64(17, "offset"),
      size: d64(25, "size"),
      sizeWithPadding: d64(33, "padded size"),
      createdAt: d64(41, "creation time"),
      modifiedAt: d64(49, "modification time"),
      name: cString(table.subarray(at + 73, at + 201)),
    };
    const extra = new DataView(table.buffer, at + 201, 384);
    if (d.dataType === DataType.Partition) {
      d.partition = {
        fsType: extra.getInt32(0, true),
        partType: extra.getInt32(4, true),
        arch: ARCHES[cString(table.subarray(at + 209, at + 212))] ?? "unknown",
      };
    } else if (d.dataType === DataType.CryptoMessage) {
      d.cryptoMessage = { format: extra.getInt32(0, true), messageType: extra.getInt32(4, true) };
    }
    const owhere = `${where}: object ${d.id}`;
    if (d.id === 0 || seen.has(d.id)) throw inputError(`${owhere}: duplicate or zero object ID`);
    seen.add(d.id);
    if (d.size < 0 || d.offset < 0) throw inputError(`${owhere}: negative offset or size`);
    if (d.offset < header.dataOffset) {
      throw inputError(
        `${owhere} (${
          dataTypeName(d.dataType)
        }) starts at ${d.offset}, inside the header or descriptor table`,
      );
    }
    if (d.offset + d.size > fileSize) {
      throw inputError(
        `${owhere} (${
          dataTypeName(d.dataType)
        }) extends beyond the end of the file (offset ${d.offset} + size ${d.size} > ${fileSize} bytes)`,
        { hint: "the image is truncated or corrupt; copy it again" },
      );
    }
    descriptors.push(d);
  }
  if (descriptors.length !== total - header.descriptorsFree) {
    throw inputError(
      `${where}: header says ${
        total - header.descriptorsFree
      } objects are used, the table holds ${descriptors.length}`,
    );
  }
  const byOffset = descriptors.filter((d) => d.size > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    if (prev.offset + prev.size > cur.offset) {
      throw inputError(`${where}: objects ${prev.id} and ${cur.id} overlap`);
    }
  }
  return { path, fileSize, header, descriptors };
}

/** The primary system partition, if any; more than one is a corrupt image. */
export function primaryPartition(image: SifImage): SifDescriptor | undefined {
  const prims = image.descriptors.filter((d) => d.partition?.partType === PartType.PrimSys);
  if (prims.length > 1) {
    throw inputError(
      `image ${q(image.path)}: ${prims.length} primary system partitions (objects ${
        prims.map((d) => d.id).join(", ")
      })`,
    );
  }
  return prims[0];
}

/** The wrapped key Apptainer uses: first PEM/RSA-OAEP crypto message linked to the partition. */
export function keyMessageFor(
  image: SifImage,
  partition: SifDescriptor,
): SifDescriptor | undefined {
  return image.descriptors.find((d) =>
    d.dataType === DataType.CryptoMessage && d.linkedId === partition.id &&
    d.cryptoMessage?.format === CryptoFormat.PEM &&
    d.cryptoMessage.messageType === CryptoMessageType.RSAOAEP
  );
}
