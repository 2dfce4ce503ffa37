/**
 * Apptainer's wrapped image key (SIF CryptoMessage, PEM/RSA-OAEP): the
 * plaintext key encrypted with RSA-OAEP (SHA-256, empty label), as a DER
 * OCTET STRING armoured as PEM `MESSAGE`. Ciphertext longer than one modulus
 * is taken as consecutive k-byte chunks.
 */
import { inputError, refusal } from "../util/errors.ts";
import { encodeTlv, pemDecode, pemEncode, readOnly, TAG_OCTET_STRING } from "./der.ts";
import type { LoadedKey } from "./keys.ts";

/** A real message is under 3 KB even for RSA-16384; anything far larger is hostile. */
export const MAX_CRYPTO_MESSAGE_BYTES = 64 * 1024;

export async function wrapImageKey(publicKey: LoadedKey, plaintext: Uint8Array): Promise<string> {
  const k = Math.ceil(publicKey.bits / 8);
  const chunk = k - 2 * 32 - 2;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < plaintext.length; i += chunk) {
    const piece = plaintext.slice(i, i + chunk);
    parts.push(
      new Uint8Array(
        await crypto.subtle.encrypt({ name: "RSA-OAEP" }, publicKey.key, piece),
      ),
    );
  }
  const ciphertext = new Uint8Array(parts.length * k);
  parts.forEach((p, i) => ciphertext.set(p, i * k));
  return pemEncode("MESSAGE", encodeTlv(TAG_OCTET_STRING, ciphertext));
}

/** PEM MESSAGE -> DER OCTET STRING -> ciphertext; errors are input errors (exit 3). */
export function decodeCryptoMessage(message: Uint8Array): Uint8Array {
  const what = "the image's crypto message";
  if (message.length > MAX_CRYPTO_MESSAGE_BYTES) {
    throw inputError(`cannot decode ${what}: ${message.length} bytes is implausibly large`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(message);
  } catch {
    throw inputError(`cannot decode ${what}: not PEM text`);
  }
  const block = pemDecode(text, what);
  if (block.type !== "MESSAGE") {
    throw inputError(`cannot decode ${what}: PEM block is "${block.type}", expected "MESSAGE"`);
  }
  const ciphertext = readOnly(block.der, TAG_OCTET_STRING, what);
  if (ciphertext.length === 0) throw inputError(`cannot decode ${what}: empty ciphertext`);
  return ciphertext;
}

/**
 * Recover the image key. A ciphertext that does not fit the key's modulus or
 * fails OAEP decryption means the key does not belong to this image: a refusal.
 */
export async function unwrapImageKey(
  privateKey: LoadedKey,
  message: Uint8Array,
): Promise<Uint8Array> {
  const ciphertext = decodeCryptoMessage(message);
  const k = Math.ceil(privateKey.bits / 8);
  if (ciphertext.length % k !== 0) {
    throw refusal(
      `the key does not open this image: the wrapped key is ${ciphertext.length} bytes, not a multiple of this ${privateKey.bits}-bit key's ${k} bytes`,
      { hint: "use the private key that belongs to the public key the image was built with" },
    );
  }
  const parts: Uint8Array[] = [];
  try {
    for (let i = 0; i < ciphertext.length; i += k) {
      parts.push(
        new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "RSA-OAEP" },
            privateKey.key,
            ciphertext.slice(i, i + k),
          ),
        ),
      );
    }
  } catch {
    parts.forEach((p) => p.fill(0));
    throw refusal(
      "the key does not open this image: RSA-OAEP decryption of its wrapped key failed",
      {
        hint: "use the private key that belongs to the public key the image was built with",
      },
    );
  }
  const plaintext = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    plaintext.set(p, pos);
    pos += p.length;
    p.fill(0);
  }
  return plaintext;
}
