/**
 * SIF writer that lays files out exactly as the SIF project's Go library
 * does (create with 48 descriptor slots at 4096, data at 32176, partitions
 * aligned to 4096, other objects packed). Used to build test images and by
 * the Apptainer stand-in; production images come from Apptainer itself.
 */
import {
  archCode,
  DataType,
  DESCRIPTOR_SIZE,
  GO_ZERO_TIME,
  MAGIC,
  PartType,
  VERSION,
} from "./sif.ts";

export const DEFAULT_DESCRIPTORS = 48;
export const DESCRIPTORS_OFFSET = 4096;
const PARTITION_ALIGNMENT = 4096;
const GROUP_FLAG = 0xf0000000;

export interface SifObjectInput {
  dataType: number;
  data: Uint8Array;
  /** Group number (default 1, as Apptainer); 0 = no group. */
  group?: number;
  /** ID of a linked object. */
  linkedId?: number;
  /** Linked group number (instead of linkedId). */
  linkedGroup?: number;
  name?: string;
  /** Partition metadata; required for DataType.Partition. */
  partition?: { fsType: number; partType: number; arch: string };
  cryptoMessage?: { format: number; messageType: number };
  /** Raw Extra bytes for other types. */
  extra?: Uint8Array;
  /** Byte alignment of the data (default 4096 for partitions, 1 otherwise). */
  alignment?: number;
}

export interface SifInput {
  launchScript?: string;
  /** 16 raw bytes; all zero = deterministic. */
  id?: Uint8Array;
  /** Unix seconds for header and objects (default: Go's zero time, deterministic). */
  time?: number;
  descriptors?: number;
  objects: SifObjectInput[];
}

export function encodeSif(input: SifInput): Uint8Array {
  const total = input.descriptors ?? DEFAULT_DESCRIPTORS;
  const time = BigInt(input.time ?? GO_ZERO_TIME);
  const dataOffset = DESCRIPTORS_OFFSET + total * DESCRIPTOR_SIZE;
  if (input.objects.length > total) throw new Error("more objects than descriptor slots");

  const placed: { offset: number; padded: number }[] = [];
  let end = dataOffset;
  for (const obj of input.objects) {
    const align = obj.alignment ??
      (obj.dataType === DataType.Partition ? PARTITION_ALIGNMENT : 1);
    const offset = Math.ceil(end / align) * align;
    placed.push({ offset, padded: offset - end + obj.data.length });
    end = offset + obj.data.length;
  }

  const out = new Uint8Array(end);
  const view = new DataView(out.buffer);
  const enc = new TextEncoder();
  out.set(enc.encode(input.launchScript ?? "").subarray(0, 32), 0);
  out.set(enc.encode(MAGIC), 32);
  out.set(enc.encode(VERSION), 42);
  const prim = input.objects.find((o) => o.partition?.partType === PartType.PrimSys);
  out.set(enc.encode(`${prim ? archCode(prim.partition!.arch) : "00"}\0`), 45);
  if (input.id) out.set(input.id.subarray(0, 16), 48);
  view.setBigInt64(64, time, true);
  view.setBigInt64(72, time, true);
  view.setBigInt64(80, BigInt(total - input.objects.length), true);
  view.setBigInt64(88, BigInt(total), true);
  view.setBigInt64(96, BigInt(DESCRIPTORS_OFFSET), true);
  view.setBigInt64(104, BigInt(total * DESCRIPTOR_SIZE), true);
  view.setBigInt64(112, BigInt(dataOffset), true);
  view.setBigInt64(120, BigInt(end - dataOffset), true);

  input.objects.forEach((obj, i) => {
    const at = DESCRIPTORS_OFFSET + i * DESCRIPTOR_SIZE;
    const { offset, padded } = placed[i]!;
    const group = obj.group ?? 1;
    view.setInt32(at, obj.dataType, true);
    out[at + 4] = 1;
    view.setUint32(at + 5, i + 1, true);
    view.setUint32(at + 9, group === 0 ? 0 : (group | GROUP_FLAG) >>> 0, true);
    const link = obj.linkedGroup !== undefined
      ? (obj.linkedGroup | GROUP_FLAG) >>> 0
      : obj.linkedId ?? 0;
    view.setUint32(at + 13, link, true);
    view.setBigInt64(at + 17, BigInt(offset), true);
    view.setBigInt64(at + 25, BigInt(obj.data.length), true);
    view.setBigInt64(at + 33, BigInt(padded), true);
    view.setBigInt64(at + 41, time, true);
    view.setBigInt64(at + 49, time, true);
    out.set(enc.encode(obj.name ?? "").subarray(0, 128), at + 73);
    const extra = at + 201;
    if (obj.partition) {
      view.setInt32(extra, obj.partition.fsType, true);
      view.setInt32(extra + 4, obj.partition.partType, true);
      out.set(enc.encode(`${archCode(obj.partition.arch)}\0`), extra + 8);
    } else if (obj.cryptoMessage) {
      view.setInt32(extra, obj.cryptoMessage.format, true);
      view.setInt32(extra + 4, obj.cryptoMessage.messageType, true);
    } else if (obj.extra) {
      out.set(obj.extra.subarray(0, 384), extra);
    }
    out.set(obj.data, offset);
  });
  return out;
}
