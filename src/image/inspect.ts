/**
 * `image inspect`: what a SIF image is and whether it is encrypted, from the
 * file alone (no root, no Apptainer). With a private key it proves the key
 * opens the image: the RSA-OAEP wrapped key must decrypt, and for the LUKS2
 * format the recovered passphrase must open a keyslot of the partition's
 * LUKS2 header (`cryptsetup open --test-passphrase` on a copy of the header).
 */
import { inputError, q, refusal } from "../util/errors.ts";
import { exec } from "../util/exec.ts";
import { makePrivateDir, readSecretFile } from "../util/secret_file.ts";
import { MAX_CRYPTO_MESSAGE_BYTES, unwrapImageKey } from "./crypto_message.ts";
import { importPrivateKeyPem } from "./keys.ts";
import { probeGocryptfs } from "./gocryptfs.ts";
import type { GocryptfsReport } from "./gocryptfs.ts";
import {
  CryptoFormat,
  CryptoMessageType,
  dataTypeName,
  FsType,
  fsTypeName,
  keyMessageFor,
  partTypeName,
  primaryPartition,
  type SifDescriptor,
  type SifHeader,
  SifReader,
} from "./sif.ts";

export type ImageFormat = "luks2" | "gocryptfs" | "plain" | "other";

export interface ObjectReport {
  id: number;
  type: string;
  group: number | null;
  linkedId: number | null;
  linkedGroup: number | null;
  offset: number;
  size: number;
  name: string;
  /** "Encrypted squashfs/*System/amd64" for partitions, "PEM/RSA-OAEP" for crypto messages. */
  detail: string | null;
}

export interface Luks2Report {
  uuid: string;
  cipher: string;
  sectorSize: number;
  /** Offset of the encrypted data inside the partition (LUKS2 metadata ends here). */
  dataOffset: number;
  keyslots: number;
}

export interface KeyCheck {
  keyBits: number;
  /** The RSA-OAEP wrapped key decrypted with the given private key. */
  messageDecrypted: true;
  /** The recovered passphrase opened a LUKS2 keyslot (null for gocryptfs: needs FUSE). */
  luks2Opens: boolean | null;
}

export interface ImageReport {
  path: string;
  size: number;
  header: SifHeader;
  objects: ObjectReport[];
  format: ImageFormat;
  encrypted: boolean;
  /** How the image key is held: RSA-wrapped in the image ("pem"), or a passphrase the user keeps. */
  keyMode: "pem" | "passphrase" | null;
  primaryPartition: { id: number; fsType: string; arch: string; size: number } | null;
  keyMessage: { id: number; size: number } | null;
  luks2: Luks2Report | null;
  /** The gocryptfs volume's layout, checked (see gocryptfs.ts). */
  gocryptfs: GocryptfsReport | null;
  keyCheck: KeyCheck | null;
}

export interface InspectOptions {
  /** Private key: a path to rsa_pri.pem, or the PEM text itself. */
  key?: string;
}

const LUKS2_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe];
const SQUASHFS_MAGIC = [0x68, 0x73, 0x71, 0x73];
/** Valid LUKS2 header sizes (binary header + JSON area), per the on-disk spec. */
const LUKS2_HDR_SIZES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((k) => k * 1024);
/** LUKS2 metadata + keyslots area is at most 4 MiB * 2 + 128 MiB. */
const MAX_LUKS2_METADATA = 136 * 1024 * 1024;

const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b);

function describe(d: SifDescriptor): ObjectReport {
  let detail: string | null = null;
  if (d.partition) {
    detail = `${fsTypeName(d.partition.fsType)}/${
      partTypeName(d.partition.partType)
    }/${d.partition.arch}`;
  } else if (d.cryptoMessage) {
    const f = d.cryptoMessage.format === CryptoFormat.PEM
      ? "PEM"
      : d.cryptoMessage.format === CryptoFormat.OpenPGP
      ? "OpenPGP"
      : `format ${d.cryptoMessage.format}`;
    const m = d.cryptoMessage.messageType === CryptoMessageType.RSAOAEP
      ? "RSA-OAEP"
      : d.cryptoMessage.messageType === CryptoMessageType.ClearSignature
      ? "Clear Signature"
      : `type 0x${d.cryptoMessage.messageType.toString(16)}`;
    detail = `${f}/${m}`;
  }
  return {
    id: d.id,
    type: dataTypeName(d.dataType),
    group: d.groupId,
    linkedId: d.linkedId,
    linkedGroup: d.linkedGroup,
    offset: d.offset,
    size: d.size,
    name: d.name,
    detail,
  };
}

/** Parse the partition's LUKS2 header far enough to report it and to know where metadata ends. */
async function probeLuks2(reader: SifReader, part: SifDescriptor): Promise<Luks2Report> {
  const where = `image ${q(reader.image.path)}: partition ${part.id}`;
  const head = await reader.prefix(part, 4096);
  if (head.length < 4096 || !startsWith(head, LUKS2_MAGIC)) {
    throw inputError(`${where} is marked "Encrypted squashfs" but holds no LUKS header`);
  }
  const view = new DataView(head.buffer);
  const version = view.getUint16(6);
  if (version !== 2) throw inputError(`${where}: LUKS version ${version}, expected 2`);
  const hdrSize = Number(view.getBigUint64(8));
  if (!LUKS2_HDR_SIZES.includes(hdrSize) || hdrSize > part.size) {
    throw inputError(`${where}: LUKS2 header size ${hdrSize} is invalid`);
  }
  const area = (await reader.prefix(part, hdrSize)).subarray(4096);
  const nul = area.indexOf(0);
  let meta: {
    keyslots?: Record<string, unknown>;
    segments?: Record<string, { offset?: string; encryption?: string; sector_size?: number }>;
  };
  try {
    meta = JSON.parse(new TextDecoder().decode(nul < 0 ? area : area.subarray(0, nul)));
  } catch {
    throw inputError(`${where}: LUKS2 JSON metadata is not valid JSON`);
  }
  const segment = meta?.segments?.["0"];
  const offset: unknown = segment?.offset;
  const dataOffset = typeof offset === "string" || typeof offset === "number"
    ? Number(offset)
    : NaN;
  if (!Number.isSafeInteger(dataOffset) || dataOffset < 2 * hdrSize) {
    throw inputError(`${where}: LUKS2 metadata has no valid data segment`);
  }
  if (dataOffset > part.size || dataOffset > MAX_LUKS2_METADATA) {
    throw inputError(
      `${where}: LUKS2 data segment offset ${dataOffset} lies beyond the partition (${part.size} bytes)`,
    );
  }
  const uuid = new TextDecoder().decode(head.subarray(168, 208)).replace(/\0.*$/s, "");
  return {
    uuid,
    // Only what has the right type is reported: String() of a hostile object would throw.
    cipher: typeof segment?.encryption === "string" ? segment.encryption : "unknown",
    sectorSize: typeof segment?.sector_size === "number" ? segment.sector_size : 0,
    dataOffset,
    keyslots: Object.keys(meta?.keyslots ?? {}).length,
  };
}

async function loadKey(key: string) {
  if (key.startsWith("-----BEGIN")) return await importPrivateKeyPem(key, "the image private key");
  const bytes = await readSecretFile(key, { label: "image private key", maxBytes: 64 * 1024 });
  try {
    return await importPrivateKeyPem(new TextDecoder().decode(bytes), `private key ${q(key)}`);
  } finally {
    bytes.fill(0);
  }
}

/** Does `passphrase` open a keyslot of the LUKS2 header at the start of `part`? */
async function luks2Opens(
  reader: SifReader,
  part: SifDescriptor,
  luks2: Luks2Report,
  passphrase: Uint8Array,
): Promise<boolean> {
  // Only the metadata (headers + keyslots) is copied: cryptsetup needs no ciphertext to test a keyslot.
  const dir = await makePrivateDir("sealbatch-image", { fallback: true });
  try {
    const header = `${dir.path}/luks2-header.img`;
    await reader.copyPrefixTo(part, luks2.dataOffset, header);
    const res = await exec(
      "cryptsetup",
      [
        "open",
        "--test-passphrase",
        "--disable-locks",
        "--type",
        "luks2",
        "--key-file",
        "-",
        header,
      ],
      { stdin: passphrase, okCodes: [0, 2], what: "cannot test the image key" },
    );
    return res.code === 0;
  } finally {
    // The header copy is public data (it is in the image): unlink it without the slow
    // zero-overwrite that remove() gives secret files.
    await Deno.remove(`${dir.path}/luks2-header.img`).catch(() => {});
    await dir.remove();
  }
}

export async function inspectImage(path: string, opts: InspectOptions = {}): Promise<ImageReport> {
  // Load the key first: a bad key file is reported before any image work.
  const key = opts.key === undefined ? undefined : await loadKey(opts.key);
  await using reader = await SifReader.open(path);
  const image = reader.image;
  const part = primaryPartition(image);

  let format: ImageFormat = "other";
  let luks2: Luks2Report | null = null;
  let gocryptfs: GocryptfsReport | null = null;
  if (part?.partition) {
    const fs = part.partition.fsType;
    if (fs === FsType.EncryptedSquashfs) {
      format = "luks2";
      luks2 = await probeLuks2(reader, part);
    } else if (fs === FsType.GocryptfsSquashfs) {
      format = "gocryptfs";
      if (!startsWith(await reader.prefix(part, 4), SQUASHFS_MAGIC)) {
        throw inputError(
          `image ${
            q(path)
          }: partition ${part.id} is marked "Gocryptfs squashfs" but is not a squashfs`,
        );
      }
      // The mark and the magic prove nothing: the volume's layout must be there too.
      gocryptfs = await probeGocryptfs(path, part.offset, part.id);
    } else if (fs >= FsType.Squashfs && fs <= FsType.Raw) {
      format = "plain";
    }
  }
  const encrypted = format === "luks2" || format === "gocryptfs";
  const message = part && encrypted ? keyMessageFor(image, part) : undefined;

  let keyCheck: KeyCheck | null = null;
  if (key && encrypted && part) {
    if (!message) {
      throw refusal(
        `the key cannot open image ${q(path)}: it was encrypted with a passphrase, not an RSA key`,
        { hint: "Apptainer stores no wrapped key for passphrase builds; rebuild with --pem" },
      );
    }
    const wrapped = await reader.data(message, MAX_CRYPTO_MESSAGE_BYTES, "the crypto message");
    const passphrase = await unwrapImageKey(key, wrapped);
    try {
      let opens: boolean | null = null;
      if (luks2) {
        opens = await luks2Opens(reader, part, luks2, passphrase);
        if (!opens) {
          throw refusal(
            `the key does not open image ${
              q(path)
            }: the unwrapped passphrase opens no LUKS2 keyslot`,
            { hint: "the image's wrapped key and its LUKS2 partition do not belong together" },
          );
        }
      }
      keyCheck = { keyBits: key.bits, messageDecrypted: true, luks2Opens: opens };
    } finally {
      passphrase.fill(0);
    }
  }

  return {
    path,
    size: image.fileSize,
    header: image.header,
    objects: image.descriptors.map(describe),
    format,
    encrypted,
    keyMode: encrypted ? (message ? "pem" : "passphrase") : null,
    primaryPartition: part?.partition
      ? {
        id: part.id,
        fsType: fsTypeName(part.partition.fsType),
        arch: part.partition.arch,
        size: part.size,
      }
      : null,
    keyMessage: message ? { id: message.id, size: message.size } : null,
    luks2,
    gocryptfs,
    keyCheck,
  };
}
