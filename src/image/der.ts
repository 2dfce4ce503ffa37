/**
 * The little ASN.1 DER and PEM that image keys and crypto messages need:
 * strict definite-length parsing (untrusted input never drives an allocation
 * larger than the bytes already in hand) and minimal encoding.
 */
import { inputError } from "../util/errors.ts";

export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_NULL = 0x05;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;

export interface Tlv {
  tag: number;
  /** The element's content bytes (a view into the input). */
  content: Uint8Array;
  /** Offset just past the element. */
  end: number;
}

/** Read one DER element at `offset`; `what` names the thing for error messages. */
export function readTlv(bytes: Uint8Array, offset: number, what: string): Tlv {
  const bad = (why: string) => inputError(`cannot decode ${what}: ${why}`);
  if (offset + 2 > bytes.length) throw bad("truncated DER element");
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw bad("multi-byte DER tags are not supported");
  let lengthByte = bytes[offset + 1]!;
  let pos = offset + 2;
  let length: number;
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    lengthByte &= 0x7f;
    if (lengthByte === 0) throw bad("indefinite DER length");
    if (lengthByte > 4) throw bad("DER length field too long");
    if (pos + lengthByte > bytes.length) throw bad("truncated DER length");
    length = 0;
    for (let i = 0; i < lengthByte; i++) length = length * 256 + bytes[pos + i]!;
    if (bytes[pos] === 0 || length < 0x80) throw bad("non-minimal DER length");
    pos += lengthByte;
  }
  if (pos + length > bytes.length) {
    throw bad(`DER element claims ${length} bytes but only ${bytes.length - pos} remain`);
  }
  return { tag, content: bytes.subarray(pos, pos + length), end: pos + length };
}

/** Read exactly one element of the given tag spanning all of `bytes`. */
export function readOnly(bytes: Uint8Array, tag: number, what: string): Uint8Array {
  const tlv = readTlv(bytes, 0, what);
  if (tlv.tag !== tag) {
    throw inputError(
      `cannot decode ${what}: expected DER tag 0x${tag.toString(16)}, found 0x${
        tlv.tag.toString(16)
      }`,
    );
  }
  if (tlv.end !== bytes.length) {
    throw inputError(`cannot decode ${what}: ${bytes.length - tlv.end} trailing bytes after DER`);
  }
  return tlv.content;
}

/** The elements inside a SEQUENCE's content. */
export function readSequence(content: Uint8Array, what: string): Tlv[] {
  const items: Tlv[] = [];
  let pos = 0;
  while (pos < content.length) {
    const tlv = readTlv(content, pos, what);
    items.push(tlv);
    pos = tlv.end;
  }
  return items;
}

export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else {
    const lenBytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
    header = [tag, 0x80 | lenBytes.length, ...lenBytes];
  }
  const out = new Uint8Array(header.length + n);
  out.set(header);
  out.set(content, header.length);
  return out;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Armour DER the way Go's encoding/pem does: 64-column base64, trailing newline. */
export function pemEncode(type: string, der: Uint8Array): string {
  // Chunked so a large buffer does not overflow String.fromCharCode's argument limit.
  let binary = "";
  for (let i = 0; i < der.length; i += 0x8000) {
    binary += String.fromCharCode(...der.subarray(i, i + 0x8000));
  }
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}${
    lines.length ? "\n" : ""
  }-----END ${type}-----\n`;
}

export interface PemBlock {
  type: string;
  der: Uint8Array;
  /** True when the block has RFC 1421 headers (Proc-Type: 4,ENCRYPTED ...). */
  hasHeaders: boolean;
}

/** Decode the first PEM block in `text`. */
export function pemDecode(text: string, what: string): PemBlock {
  // Real types are a few words; a bounded one keeps a hostile type out of the messages.
  const begin = /-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n/.exec(text);
  if (!begin) throw inputError(`cannot decode ${what}: no PEM block found`);
  const type = begin[1]!;
  const endMarker = `-----END ${type}-----`;
  const bodyStart = begin.index + begin[0].length;
  const endAt = text.indexOf(endMarker, bodyStart);
  if (endAt < 0) throw inputError(`cannot decode ${what}: PEM block has no ${endMarker} line`);
  let body = text.slice(bodyStart, endAt);
  let hasHeaders = false;
  const blank = body.search(/\r?\n\r?\n/);
  if (body.includes(":") && blank >= 0) {
    hasHeaders = true;
    body = body.slice(blank).trim();
  }
  const b64 = body.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw inputError(`cannot decode ${what}: PEM body is not valid base64`);
  }
  const binary = atob(b64);
  const der = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
  return { type, der, hasHeaders };
}
