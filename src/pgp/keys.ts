/**
 * Reading and generating OpenPGP keys. Keys made by gpg (RSA, ed25519) and by
 * sealbatch are accepted; generated keys are v4 curve25519Legacy, which
 * GnuPG 2.2 imports.
 */
import { decryptKey, generateKey, readKey, readPrivateKey } from "openpgp";
import type { PrivateKey, PublicKey } from "openpgp";
import { inputError, q, reason } from "../util/errors.ts";
import { readSecretFile } from "../util/secret_file.ts";
import { readTextCapped } from "../util/files.ts";
import { ARMOR_LIMITS, checkArmor, parsing } from "./armor.ts";
import { PGP_CONFIG } from "./config.ts";

/** Supplies the passphrase of a protected key (prompt, file, ...); `label` names the key. */
export type PassphraseSource = (label: string) => Promise<string>;

export interface GeneratedKey {
  privateArmored: string;
  publicArmored: string;
  /** Primary key fingerprint, lowercase hex. */
  fingerprint: string;
}

export interface GenerateKeyInput {
  name: string;
  email: string;
  comment?: string;
  /** Protects the secret key (iterated S2K); undefined writes it unprotected. */
  passphrase?: string;
}

export async function generateKeyPair(input: GenerateKeyInput): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generateKey({
    type: "ecc",
    curve: "curve25519Legacy",
    userIDs: [{
      name: input.name,
      email: input.email,
      ...(input.comment ? { comment: input.comment } : {}),
    }],
    ...(input.passphrase ? { passphrase: input.passphrase } : {}),
    format: "object",
    config: PGP_CONFIG,
  });
  return {
    privateArmored: privateKey.armor(),
    publicArmored: publicKey.armor(),
    fingerprint: privateKey.getFingerprint(),
  };
}

/** Parse an armored public key (a secret key block yields its public part). */
export async function parsePublicKey(armored: string, label: string): Promise<PublicKey> {
  const type = armored.trimStart().startsWith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    ? "PRIVATE KEY BLOCK"
    : "PUBLIC KEY BLOCK";
  const text = checkArmor(armored, type, label);
  const key = await parsing(label, () => readKey({ armoredKey: text, config: PGP_CONFIG }));
  return key.toPublic();
}

/** Parse an armored secret key and unlock it with `passphrase` when it is protected. */
export async function parsePrivateKey(
  armored: string,
  label: string,
  passphrase?: PassphraseSource,
): Promise<PrivateKey> {
  const text = checkArmor(armored, "PRIVATE KEY BLOCK", label);
  const key = await parsing(
    label,
    () => readPrivateKey({ armoredKey: text, config: PGP_CONFIG }),
  );
  if (key.isDecrypted()) return key;
  if (!passphrase) {
    throw inputError(`cannot use ${label}: it is protected by a passphrase and none was given`, {
      hint: "run on a terminal to be asked, or give --passphrase-file FILE",
    });
  }
  const secret = await passphrase(label);
  try {
    return await decryptKey({ privateKey: key, passphrase: secret, config: PGP_CONFIG });
  } catch (err) {
    const why = /incorrect key passphrase/i.test(reason(err)) ? "wrong passphrase" : reason(err);
    throw inputError(`cannot unlock ${label}: ${why}`);
  }
}

export async function readPublicKeyFile(path: string, label = "public key"): Promise<PublicKey> {
  const text = await readTextCapped(path, ARMOR_LIMITS.key, label);
  return await parsePublicKey(text, `${label} ${q(path)}`);
}

/** Secret key files must be owner-only (mode 0600), like every key file. */
export async function readPrivateKeyFile(
  path: string,
  label = "secret key",
  passphrase?: PassphraseSource,
): Promise<PrivateKey> {
  const bytes = await readSecretFile(path, { label, maxBytes: ARMOR_LIMITS.key });
  return await parsePrivateKey(new TextDecoder().decode(bytes), `${label} ${q(path)}`, passphrase);
}
