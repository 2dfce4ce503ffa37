/** Encrypt bytes to one public key: PKESK v3 + SEIPDv1, which GnuPG 2.2 decrypts. */
import { createMessage, encrypt } from "openpgp";
import type { PublicKey } from "openpgp";
import { inputError, reason } from "../util/errors.ts";
import { PGP_CONFIG } from "./config.ts";

export async function encryptTo(data: Uint8Array, key: PublicKey, label: string): Promise<string> {
  const message = await createMessage({ binary: data });
  try {
    return await encrypt({ message, encryptionKeys: key, format: "armored", config: PGP_CONFIG });
  } catch (err) {
    throw inputError(`cannot encrypt to ${label}: ${reason(err)}`);
  }
}
