/**
 * RSA key pairs for encrypted Apptainer images, made in-process with
 * WebCrypto and stored the way Apptainer reads them: PKCS#1 PEM
 * (`RSA PRIVATE KEY` / `RSA PUBLIC KEY`), no passphrase.
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";
import { writeSecretFile } from "../util/secret_file.ts";
import { exists, writeFileAtomic } from "../util/files.ts";
import {
  concatBytes,
  encodeTlv,
  pemDecode,
  pemEncode,
  readOnly,
  readSequence,
  TAG_BIT_STRING,
  TAG_INTEGER,
  TAG_NULL,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
} from "./der.ts";

const OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;
/** AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
const RSA_ALGORITHM = encodeTlv(
  TAG_SEQUENCE,
  concatBytes([
    encodeTlv(TAG_OID, new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])),
    encodeTlv(TAG_NULL, new Uint8Array()),
  ]),
);

export const PRIVATE_KEY_FILE = "rsa_pri.pem";
export const PUBLIC_KEY_FILE = "rsa_pub.pem";

export interface ImageKeyPair {
  privatePem: string;
  publicPem: string;
}

export async function generateImageKeyPair(bits = 4096): Promise<ImageKeyPair> {
  const pair = await crypto.subtle.generateKey(
    { ...OAEP, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["encrypt", "decrypt"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return {
    privatePem: pemEncode("RSA PRIVATE KEY", pkcs1FromPkcs8(pkcs8)),
    publicPem: pemEncode("RSA PUBLIC KEY", pkcs1FromSpki(spki)),
  };
}

/** PrivateKeyInfo { version, algorithm, OCTET STRING RSAPrivateKey } -> RSAPrivateKey. */
function pkcs1FromPkcs8(pkcs8: Uint8Array): Uint8Array {
  const items = readSequence(readOnly(pkcs8, TAG_SEQUENCE, "PKCS#8 key"), "PKCS#8 key");
  const octets = items[2];
  if (!octets || octets.tag !== TAG_OCTET_STRING) {
    throw new SealbatchError("internal", "unexpected PKCS#8 layout from WebCrypto");
  }
  return octets.content.slice();
}

/** SubjectPublicKeyInfo { algorithm, BIT STRING RSAPublicKey } -> RSAPublicKey. */
function pkcs1FromSpki(spki: Uint8Array): Uint8Array {
  const items = readSequence(readOnly(spki, TAG_SEQUENCE, "SPKI key"), "SPKI key");
  const bits = items[1];
  if (!bits || bits.tag !== TAG_BIT_STRING || bits.content[0] !== 0) {
    throw new SealbatchError("internal", "unexpected SPKI layout from WebCrypto");
  }
  return bits.content.slice(1);
}

/** Number of modulus bits of a PKCS#1 RSAPublicKey/RSAPrivateKey (modulus is the first INTEGER after an optional version). */
function modulusBits(pkcs1: Uint8Array, isPrivate: boolean, what: string): number {
  const items = readSequence(readOnly(pkcs1, TAG_SEQUENCE, what), what);
  const n = items[isPrivate ? 1 : 0];
  if (!n || n.tag !== TAG_INTEGER || items.length < (isPrivate ? 9 : 2)) {
    throw inputError(`cannot decode ${what}: not a PKCS#1 RSA key`);
  }
  let i = 0;
  while (i < n.content.length && n.content[i] === 0) i++;
  const first = n.content[i] ?? 0;
  return (n.content.length - i - 1) * 8 + (first === 0 ? 0 : Math.floor(Math.log2(first)) + 1);
}

export interface LoadedKey {
  key: CryptoKey;
  bits: number;
}

/**
 * Import an RSA private key from PEM text: PKCS#1 (`RSA PRIVATE KEY`, what
 * Apptainer uses) or PKCS#8 (`PRIVATE KEY`). Encrypted PEM is refused, as
 * Apptainer does.
 */
export async function importPrivateKeyPem(text: string, what: string): Promise<LoadedKey> {
  const block = pemDecode(text, what);
  if (block.hasHeaders) {
    throw inputError(`cannot use ${what}: passphrase-protected PEM keys are not supported`, {
      hint: "Apptainer cannot use them either; export the key without a passphrase",
    });
  }
  let pkcs8: Uint8Array;
  let pkcs1: Uint8Array;
  if (block.type === "RSA PRIVATE KEY") {
    pkcs1 = block.der;
    pkcs8 = encodeTlv(
      TAG_SEQUENCE,
      concatBytes([
        encodeTlv(TAG_INTEGER, new Uint8Array([0])),
        RSA_ALGORITHM,
        encodeTlv(TAG_OCTET_STRING, pkcs1),
      ]),
    );
  } else if (block.type === "PRIVATE KEY") {
    pkcs8 = block.der;
    pkcs1 = pkcs1FromPkcs8Checked(pkcs8, what);
  } else {
    throw inputError(`cannot use ${what}: PEM block is ${q(block.type)}, not an RSA private key`, {
      hint: block.type.includes("PUBLIC")
        ? "this is the public key; give the private key (rsa_pri.pem)"
        : "give the PKCS#1 private key that 'sealbatch image keygen' wrote (rsa_pri.pem)",
    });
  }
  const bits = modulusBits(pkcs1, true, what);
  try {
    const key = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      OAEP,
      false,
      ["decrypt"],
    );
    return { key, bits };
  } catch {
    throw inputError(`cannot use ${what}: not a valid RSA private key`);
  }
}

function pkcs1FromPkcs8Checked(pkcs8: Uint8Array, what: string): Uint8Array {
  const items = readSequence(readOnly(pkcs8, TAG_SEQUENCE, what), what);
  const octets = items[2];
  if (!octets || octets.tag !== TAG_OCTET_STRING) {
    throw inputError(`cannot decode ${what}: not a PKCS#8 private key`);
  }
  return octets.content;
}

/** Import an RSA public key from PKCS#1 PEM (`RSA PUBLIC KEY`), as `apptainer build --pem-path` wants. */
export async function importPublicKeyPem(text: string, what: string): Promise<LoadedKey> {
  const block = pemDecode(text, what);
  if (block.type !== "RSA PUBLIC KEY") {
    throw inputError(`cannot use ${what}: PEM block is ${q(block.type)}, not "RSA PUBLIC KEY"`, {
      hint: block.type.includes("PRIVATE")
        ? "this is a private key: never hand it to the build; give rsa_pub.pem"
        : "Apptainer needs a PKCS#1 public key; 'sealbatch image keygen' writes one",
    });
  }
  const bits = modulusBits(block.der, false, what);
  const spki = encodeTlv(
    TAG_SEQUENCE,
    concatBytes([
      RSA_ALGORITHM,
      encodeTlv(TAG_BIT_STRING, concatBytes([new Uint8Array([0]), block.der])),
    ]),
  );
  try {
    const key = await crypto.subtle.importKey(
      "spki",
      spki as Uint8Array<ArrayBuffer>,
      OAEP,
      true,
      ["encrypt"],
    );
    return { key, bits };
  } catch {
    throw inputError(`cannot use ${what}: not a valid RSA public key`);
  }
}

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  bits: number;
}

/** `image keygen`: write rsa_pri.pem (O_EXCL, 0600) and rsa_pub.pem into `dir`. */
export async function writeImageKeyPair(dir: string, bits = 4096): Promise<KeygenResult> {
  const privateKey = `${dir}/${PRIVATE_KEY_FILE}`;
  const publicKey = `${dir}/${PUBLIC_KEY_FILE}`;
  for (const path of [privateKey, publicKey]) {
    if (await exists(path)) {
      throw inputError(`cannot write key pair: ${q(path)} already exists`, {
        hint: "sealbatch never overwrites keys; choose another --out directory",
      });
    }
  }
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw inputError(`cannot create directory ${q(dir)}: ${(err as Error).message}`);
  }
  const pair = await generateImageKeyPair(bits);
  await writeSecretFile(privateKey, pair.privatePem);
  try {
    await writeFileAtomic(publicKey, pair.publicPem, { mode: 0o644 });
  } catch (err) {
    await Deno.remove(privateKey).catch(() => {});
    throw err;
  }
  return { privateKey, publicKey, bits };
}
