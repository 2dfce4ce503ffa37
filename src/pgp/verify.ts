/**
 * Verify a detached signature (binary or armored) over exact bytes against
 * one trusted key. Anything but a good signature by that key is a refusal.
 */
import { createMessage, readSignature, verify } from "openpgp";
import type { PublicKey } from "openpgp";
import { reason, refusal } from "../util/errors.ts";
import { ARMOR_LIMITS, checkArmor, looksArmored } from "./armor.ts";
import { PGP_CONFIG } from "./config.ts";

export interface VerifiedSignature {
  /** Fingerprint of the trusted key's primary key, lowercase hex. */
  fingerprint: string;
  created: Date | undefined;
}

export async function verifyDetached(
  data: Uint8Array,
  signatureBytes: Uint8Array,
  key: PublicKey,
  label: string,
): Promise<VerifiedSignature> {
  if (signatureBytes.length > ARMOR_LIMITS.signature) {
    throw refusal(`${label}: signature is larger than ${ARMOR_LIMITS.signature} bytes`);
  }
  let signature;
  try {
    signature = looksArmored(signatureBytes)
      ? await readSignature({
        armoredSignature: checkArmor(
          new TextDecoder().decode(signatureBytes),
          "SIGNATURE",
          "signature",
        ),
        config: PGP_CONFIG,
      })
      : await readSignature({ binarySignature: signatureBytes, config: PGP_CONFIG });
  } catch (err) {
    throw refusal(`${label}: unreadable signature: ${reason(err)}`);
  }
  let result;
  try {
    // openpgp.js reads some packet fields (algorithm enums) only here.
    result = await verify({
      message: await createMessage({ binary: data }),
      signature,
      verificationKeys: key,
      format: "binary",
      config: PGP_CONFIG,
    });
  } catch (err) {
    throw refusal(`${label}: unreadable signature: ${reason(err)}`);
  }
  if (result.signatures.length !== 1) {
    throw refusal(`${label}: expected exactly one signature, found ${result.signatures.length}`);
  }
  const [sig] = result.signatures;
  try {
    await sig!.verified;
  } catch (err) {
    const why = reason(err);
    const text = /could not find signing key/i.test(why)
      ? `signed by key ${sig!.keyID.toHex()}, not by the registered key ${key.getKeyID().toHex()}`
      : why;
    throw refusal(`${label}: bad signature: ${text}`);
  }
  const packet = await sig!.signature;
  return { fingerprint: key.getFingerprint(), created: packet.packets[0]?.created ?? undefined };
}
