/**
 * Untrusted OpenPGP input is bounded and shape-checked before openpgp.js
 * parses it, so a huge or garbled file costs nothing and fails in one line.
 */
import { inputError, q, reason } from "../util/errors.ts";

/** Upper bounds for armored input; generous for RSA-4096 keys and command scripts. */
export const ARMOR_LIMITS = {
  key: 256 * 1024,
  signature: 64 * 1024,
  message: 4 * 1024 * 1024,
} as const;

export type ArmorType = "PUBLIC KEY BLOCK" | "PRIVATE KEY BLOCK" | "MESSAGE" | "SIGNATURE";

const LIMIT_OF: Record<ArmorType, number> = {
  "PUBLIC KEY BLOCK": ARMOR_LIMITS.key,
  "PRIVATE KEY BLOCK": ARMOR_LIMITS.key,
  "SIGNATURE": ARMOR_LIMITS.signature,
  "MESSAGE": ARMOR_LIMITS.message,
};

/**
 * Refuse `text` unless it is one armored block of `type` within the size
 * bound; returns the block without surrounding whitespace.
 */
export function checkArmor(text: string, type: ArmorType, label: string): string {
  const limit = LIMIT_OF[type];
  if (text.length > limit) throw inputError(`cannot read ${label}: larger than ${limit} bytes`);
  const trimmed = text.trim();
  const begin = `-----BEGIN PGP ${type}-----`;
  const end = `-----END PGP ${type}-----`;
  if (!trimmed.startsWith(begin)) {
    throw inputError(`cannot read ${label}: not an ASCII-armored OpenPGP ${type.toLowerCase()}`);
  }
  if (!trimmed.endsWith(end)) {
    throw inputError(`cannot read ${label}: armor is truncated (no ${q(end)} line)`);
  }
  checkBody(trimmed.slice(begin.length, trimmed.length - end.length), label);
  return trimmed;
}

const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
const CRC_LINE = /^=[A-Za-z0-9+/]{4}$/;

/**
 * The body as GnuPG 2.2 reads it: base64 only, and the CRC24 checksum, when
 * there is one, must match. openpgp.js v6 skips characters that are not
 * base64 and no longer checks the checksum, so a damaged key or message could
 * otherwise still parse into something.
 */
function checkBody(body: string, label: string): void {
  const lines = body.split(/\r?\n/).map((l) => l.trim());
  let i = 0;
  while (i < lines.length && lines[i] === "") i++;
  // Armor headers ("Comment: ..."), up to the blank line that ends them.
  if (i < lines.length && /^[A-Za-z][A-Za-z0-9-]*: /.test(lines[i]!)) {
    while (i < lines.length && lines[i] !== "") i++;
  }
  const data: string[] = [];
  let crc: string | undefined;
  for (const line of lines.slice(i)) {
    if (line === "") continue;
    if (crc !== undefined) throw inputError(`cannot read ${label}: data after the armor checksum`);
    if (CRC_LINE.test(line)) crc = line.slice(1);
    else if (BASE64_LINE.test(line)) data.push(line);
    else throw inputError(`cannot read ${label}: armor holds a line that is not base64`);
  }
  if (crc === undefined) return;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(data.join("")), (c) => c.charCodeAt(0));
  } catch {
    throw inputError(`cannot read ${label}: armor is not valid base64`);
  }
  const want = Uint8Array.from(atob(crc), (c) => c.charCodeAt(0));
  const got = crc24(bytes);
  if (want[0] !== (got >> 16 & 0xff) || want[1] !== (got >> 8 & 0xff) || want[2] !== (got & 0xff)) {
    throw inputError(`cannot read ${label}: the armor checksum does not match (damaged armor)`);
  }
}

/** RFC 4880, section 6.1. */
function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce;
  for (const b of bytes) {
    crc ^= b << 16;
    for (let k = 0; k < 8; k++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/** True when `bytes` look like ASCII armor rather than binary packets. */
export function looksArmored(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith("-----BEGIN PGP ");
}

/** Run an openpgp.js call and turn whatever it throws into one input-error line. */
export async function parsing<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw inputError(`cannot read ${label}: ${reason(err)}`);
  }
}
