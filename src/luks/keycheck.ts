/**
 * A key check value stored as a LUKS2 token in containers sealbatch makes.
 * cryptsetup says "No key available" both for a wrong key and for a damaged
 * key slot; the token tells the two apart. It is an HMAC of the container's
 * UUID under the key file: for a 512-bit random key it gives an attacker
 * nothing a key slot digest does not already give.
 */
import { createHmac } from "node:crypto";
import type { LuksHeader } from "./header.ts";

export const KEYCHECK_TOKEN = "sealbatch-keycheck";

function keycheck(key: Uint8Array, uuid: string): string {
  return createHmac("sha256", key).update(`sealbatch keycheck v1 ${uuid}`).digest("hex");
}

/** The token stored in the container's LUKS2 metadata. */
export function keycheckToken(key: Uint8Array, uuid: string): Record<string, unknown> {
  return { type: KEYCHECK_TOKEN, keyslots: [], "hmac-sha256": keycheck(key, uuid) };
}

/** true/false when the container has a key check value; undefined when it has none. */
export function keyMatchesCheck(header: LuksHeader, key: Uint8Array): boolean | undefined {
  const token = header.tokens.find((t) => t.type === KEYCHECK_TOKEN);
  const stored = token?.json["hmac-sha256"];
  if (typeof stored !== "string") return undefined;
  return stored === keycheck(key, header.uuid);
}
