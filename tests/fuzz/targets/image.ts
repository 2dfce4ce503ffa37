/**
 * Images: SIF header and descriptors (read by `image inspect` without a key,
 * plus the wrapped key message the upload guard decodes), the PEM/DER crypto
 * message on its own, and PEM RSA keys.
 */
import { encodeSif, type SifObjectInput } from "../../../src/image/sif_writer.ts";
import {
  CryptoFormat,
  CryptoMessageType,
  DataType,
  DESCRIPTOR_SIZE,
  FsType,
  HEADER_SIZE,
  keyMessageFor,
  PartType,
  primaryPartition,
  SifReader,
} from "../../../src/image/sif.ts";
import {
  decodeCryptoMessage,
  MAX_CRYPTO_MESSAGE_BYTES,
} from "../../../src/image/crypto_message.ts";
import { inspectImage } from "../../../src/image/inspect.ts";
import { importPrivateKeyPem, importPublicKeyPem } from "../../../src/image/keys.ts";
import { pemDecode, pemEncode } from "../../../src/image/der.ts";
import { type FuzzTarget, type Mutator, MUTATORS, type Rng, utf8 } from "../_harness.ts";
import { caseFiles, corpusBytes, corpusText } from "../_targets.ts";
import { jsonArea, luksContainer } from "./luks.ts";

const dec = new TextDecoder();
const SQUASHFS = new Uint8Array(4096).fill(0x11);
SQUASHFS.set([0x68, 0x73, 0x71, 0x73]);

function image(kind: "luks2" | "gocryptfs" | "plain", message: Uint8Array, slots?: number) {
  const fsType = kind === "luks2"
    ? FsType.EncryptedSquashfs
    : kind === "gocryptfs"
    ? FsType.GocryptfsSquashfs
    : FsType.Squashfs;
  const objects: SifObjectInput[] = [
    { dataType: DataType.Deffile, data: utf8("Bootstrap: scratch\n") },
    {
      dataType: DataType.Partition,
      data: kind === "luks2" ? luksContainer({ data: 4096 }) : SQUASHFS,
      partition: { fsType, partType: PartType.PrimSys, arch: "amd64" },
    },
  ];
  if (kind !== "plain") {
    objects.push({
      dataType: DataType.CryptoMessage,
      data: message,
      linkedId: 2,
      cryptoMessage: { format: CryptoFormat.PEM, messageType: CryptoMessageType.RSAOAEP },
    });
  }
  return encodeSif({
    launchScript: "#!/usr/bin/env run-singularity\n",
    objects,
    ...(slots ? { descriptors: slots } : {}),
  });
}

const INT64 = [
  0n,
  1n,
  -1n,
  127n,
  4096n,
  2n ** 31n,
  2n ** 32n,
  2n ** 53n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];

/** A header field (counts, offsets, sizes at 64..127) or a descriptor field set to an edge value. */
const sifFields: Mutator = (rng: Rng, img) => {
  if (img.length < HEADER_SIZE) return img;
  const out = img.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const value = rng.chance(0.2) ? BigInt(img.length + rng.int(5) - 2) : rng.pick(INT64);
  if (rng.chance(0.4)) {
    view.setBigInt64(64 + 8 * rng.int(8), value, true);
    return out;
  }
  const descOff = Number(view.getBigInt64(96, true));
  const slot = rng.int(4);
  const at = descOff + slot * DESCRIPTOR_SIZE;
  if (descOff < 0 || at + DESCRIPTOR_SIZE > out.length) return out;
  const field = rng.pick([0, 4, 5, 9, 13, 17, 25, 33, 201, 205]);
  if (field === 4) out[at + 4] = rng.pick([0, 1, 0xff]);
  else if ([17, 25, 33].includes(field)) view.setBigInt64(at + field, value, true);
  else view.setUint32(at + field, Number(BigInt.asUintN(32, value)), true);
  return out;
};

const LUKS_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe];

/** The JSON area of the LUKS2 header inside the partition mutated (what probeLuks2 reads). */
const luksInside: Mutator = (rng, img, ctx) => {
  let at = img.indexOf(LUKS_MAGIC[0]!);
  while (at >= 0 && !LUKS_MAGIC.every((b, i) => img[at + i] === b)) {
    at = img.indexOf(LUKS_MAGIC[0]!, at + 1);
  }
  if (at < 0) return img;
  const out = img.slice();
  const part = jsonArea(rng, out.subarray(at), ctx);
  out.set(part.subarray(0, out.length - at), at);
  return out;
};

/** The DER inside a PEM block mutated, then armored again as valid PEM. */
function innerDer(type?: string): Mutator {
  return (rng, input, ctx) => {
    let block;
    try {
      block = pemDecode(dec.decode(input), "seed");
    } catch {
      return input;
    }
    let der = block.der;
    for (let n = 1 + rng.int(3); n > 0; n--) der = rng.pick(MUTATORS)(rng, der, ctx);
    return utf8(pemEncode(type ?? block.type, der));
  };
}

const PEM_TOKENS = [
  "-----BEGIN MESSAGE-----\n",
  "-----END MESSAGE-----\n",
  "-----BEGIN RSA PRIVATE KEY-----\n",
  "-----BEGIN PRIVATE KEY-----\n",
  "-----BEGIN RSA PUBLIC KEY-----\n",
  "Proc-Type: 4,ENCRYPTED\n",
  "\n\n",
  "=",
  "====",
];

export async function makeTarget(name: string): Promise<FuzzTarget> {
  const message = await corpusBytes("crypto_message.pem");
  switch (name) {
    case "sif": {
      const files = await caseFiles(name);
      return {
        name,
        seeds: [
          image("luks2", message),
          image("gocryptfs", message, 4),
          image("plain", message, 3),
          image("luks2", message, 5),
        ],
        mutators: [sifFields, sifFields, sifFields, luksInside],
        maxBytes: 192 * 1024,
        exitCodes: [3, 4],
        async run(input) {
          const path = await files.write("image.sif", input);
          {
            await using reader = await SifReader.open(path);
            const part = primaryPartition(reader.image);
            const d = part && keyMessageFor(reader.image, part);
            if (d) {
              decodeCryptoMessage(await reader.data(d, MAX_CRYPTO_MESSAGE_BYTES, "the message"));
            }
          }
          return await inspectImage(path);
        },
        close: files.remove,
      };
    }
    case "crypto-message":
      return {
        name,
        seeds: [message],
        tokens: PEM_TOKENS,
        mutators: [innerDer(), innerDer()],
        maxBytes: MAX_CRYPTO_MESSAGE_BYTES + 1024,
        exitCodes: [3],
        run: (input) => Promise.resolve(decodeCryptoMessage(input)),
      };
    default: {
      const pri = await corpusText("rsa_pri.pem");
      const pub = await corpusText("rsa_pub.pem");
      return {
        name,
        seeds: [utf8(pri), utf8(pub)],
        tokens: PEM_TOKENS,
        mutators: [innerDer(), innerDer(), innerDer("PRIVATE KEY")],
        maxBytes: 16 * 1024,
        exitCodes: [3],
        run: (input) => {
          const text = dec.decode(input);
          return text.includes("PUBLIC")
            ? importPublicKeyPem(text, "image public key")
            : importPrivateKeyPem(text, "image private key");
        },
      };
    }
  }
}
