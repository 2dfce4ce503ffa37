/**
 * Decrypt an armored message with one secret key. A message that is not for
 * this key is a refusal; a garbled one is an input error.
 */
import { decrypt, readMessage } from "openpgp";
import type { PrivateKey } from "openpgp";
import { reason, refusal } from "../util/errors.ts";
import { checkArmor, parsing } from "./armor.ts";
import { PGP_CONFIG } from "./config.ts";

export async function decryptMessage(
  armored: string,
  key: PrivateKey,
  label: string,
): Promise<Uint8Array> {
  const text = checkArmor(armored, "MESSAGE", label);
  const message = await parsing(
    label,
    () => readMessage({ armoredMessage: text, config: PGP_CONFIG }),
  );
  const wanted = new Set(key.getKeys().map((k) => k.getKeyID().toHex()));
  const recipients = message.getEncryptionKeyIDs().map((id) => id.toHex());
  if (!recipients.some((id) => wanted.has(id))) {
    throw refusal(
      `cannot decrypt ${label}: it is encrypted to ${
        recipients.join(", ") || "no public key"
      }, not to this key`,
    );
  }
  try {
    const { data } = await decrypt({
      message,
      decryptionKeys: key,
      format: "binary",
      config: PGP_CONFIG,
    });
    return data as Uint8Array;
  } catch (err) {
    throw refusal(`cannot decrypt ${label}: ${reason(err)}`);
  }
}
