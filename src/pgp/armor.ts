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
  return trimmed;
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
