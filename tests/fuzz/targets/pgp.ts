/**
 * ASCII armor and the OpenPGP packets inside it: public and secret keys, the
 * encrypted job message (decrypted with the node key) and detached
 * signatures (armored and binary) checked against the user's key.
 */
import { parsePrivateKey, parsePublicKey } from "../../../src/pgp/keys.ts";
import { decryptMessage } from "../../../src/pgp/decrypt.ts";
import { verifyDetached } from "../../../src/pgp/verify.ts";
import { ARMOR_LIMITS } from "../../../src/pgp/armor.ts";
import { concat, type FuzzTarget, type Mutator, MUTATORS, type Rng, utf8 } from "../_harness.ts";
import { corpusBytes, corpusText } from "../_targets.ts";

const dec = new TextDecoder();

function fromBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** CRC-24 of RFC 4880 6.1, for armor whose checksum matches its (mutated) packets. */
function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce;
  for (const b of bytes) {
    crc ^= b << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

const ARMOR_RE =
  /^(-----BEGIN PGP [A-Z ]+-----\r?\n(?:[^\n]*:[^\n]*\n)*\r?\n)([\s\S]*?)(\r?\n=[^\n]*)?(\r?\n-----END PGP [A-Z ]+-----\s*)$/;

/**
 * Mutate the packets inside the armor (length fields, truncation, bit
 * flips) and armor them again, with a correct or a wrong CRC line, giant or
 * broken base64 lines: deeper cases than mutating the base64 text.
 */
const innerPackets: Mutator = (rng, input, ctx) => {
  const m = ARMOR_RE.exec(dec.decode(input));
  const packets = m ? fromBase64(m[2]!.replace(/\s+/g, "")) : undefined;
  if (!m || !packets) return input;
  let inner = packets;
  for (let n = 1 + rng.int(3); n > 0; n--) inner = rng.pick(MUTATORS)(rng, inner, ctx);
  let body = toBase64(inner);
  const width = rng.pick([64, 76, 1, 3, 1 << 20]);
  body = body.match(new RegExp(`.{1,${width}}`, "g"))?.join("\n") ?? "";
  if (rng.chance(0.1)) body = body.replace(/[A-Za-z]/, rng.pick(["*", "=", "-", "\u00e9", " "]));
  const crcValue = rng.chance(0.7) ? crc24(inner) : rng.u32() & 0xffffff;
  const crc = rng.chance(0.5)
    ? `\n=${toBase64(new Uint8Array([crcValue >> 16, (crcValue >> 8) & 0xff, crcValue & 0xff]))}`
    : rng.chance(0.5)
    ? (m[3] ?? "")
    : "\n=" + "A".repeat(rng.int(8));
  return utf8(`${m[1]}${body}${crc}${m[4]}`);
};

/** The packets of an armored seed (a binary one as it is). */
function packetsOf(seed: Uint8Array): Uint8Array {
  const m = ARMOR_RE.exec(dec.decode(seed));
  return (m && fromBase64(m[2]!.replace(/\s+/g, ""))) || seed;
}

/** OpenPGP packet headers with huge or partial lengths in front of real packets. */
function packetHeaders(rng: Rng, seeds: Uint8Array[], type: string): Uint8Array {
  const tag = rng.pick([0xc6, 0x99, 0xc1, 0x88, 0xc2, 0xd2, 0xcb, 0x8c, 0x90]);
  const lengths = [
    [0xff, 0xff, 0xff, 0xff, 0xff],
    [0xff, 0x7f, 0xff, 0xff, 0xff],
    [0xe0],
    [0xef],
    [0xc0, 0x00],
    [0x00],
    [0xff, 0, 0, 0, 0],
  ];
  const body = concat(
    new Uint8Array([tag, ...rng.pick(lengths)]),
    rng.bytes(rng.int(64)),
    packetsOf(rng.pick(seeds)),
  );
  return utf8(
    `-----BEGIN PGP ${type}-----\n\n${
      toBase64(body).replace(/(.{64})/g, "$1\n")
    }\n-----END PGP ${type}-----\n`,
  );
}

const TOKENS = [
  "-----BEGIN PGP MESSAGE-----\n",
  "-----END PGP MESSAGE-----\n",
  "-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
  "-----END PGP PUBLIC KEY BLOCK-----\n",
  "-----BEGIN PGP SIGNATURE-----\n",
  "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n",
  "Version: x\n",
  "Comment: " + "c".repeat(100) + "\n",
  "Charset: UTF-8\n",
  "\n\n",
  "=",
  "==",
  "=AAAA\n",
  "- ",
];

export async function makeTarget(name: string): Promise<FuzzTarget> {
  const nodeSec = await corpusText("node.sec.asc");
  const userPub = await corpusText("user.pub.asc");
  const keys = ["node.pub.asc", "user.pub.asc", "node.sec.asc", "user.sec.asc"];
  const common = { tokens: TOKENS, mutators: [innerPackets, innerPackets] };
  switch (name) {
    case "pgp-public-key": {
      const seeds = await Promise.all(keys.map(corpusBytes));
      return {
        name,
        ...common,
        seeds,
        generate: (rng) => packetHeaders(rng, seeds, "PUBLIC KEY BLOCK"),
        maxBytes: ARMOR_LIMITS.key + 1024,
        exitCodes: [3],
        run: (input) => parsePublicKey(dec.decode(input), "public key"),
      };
    }
    case "pgp-private-key": {
      // argon2.sec.asc is protected with Argon2 S2K (1 MiB): its cases reach the unlock.
      const seeds = await Promise.all(
        ["node.sec.asc", "user.sec.asc", "argon2.sec.asc"].map(corpusBytes),
      );
      return {
        name,
        ...common,
        seeds,
        generate: (rng) => packetHeaders(rng, seeds, "PRIVATE KEY BLOCK"),
        maxBytes: ARMOR_LIMITS.key + 1024,
        exitCodes: [3],
        // A key that turns out protected is asked for its passphrase: a wrong one.
        run: (input) =>
          parsePrivateKey(dec.decode(input), "secret key", () => Promise.resolve("wrong")),
      };
    }
    case "pgp-message": {
      const key = await parsePrivateKey(nodeSec, "node key");
      const seeds = [await corpusBytes("message.asc")];
      return {
        name,
        ...common,
        seeds,
        generate: (rng) => packetHeaders(rng, seeds, "MESSAGE"),
        maxBytes: 64 * 1024,
        exitCodes: [3, 4],
        run: (input) => decryptMessage(dec.decode(input), key, "run.sh"),
      };
    }
    default: {
      const key = await parsePublicKey(userPub, "user key");
      const data = await corpusBytes("run.sh");
      const seeds = [await corpusBytes("run.sh.sig.asc"), await corpusBytes("run.sh.sig")];
      return {
        name,
        ...common,
        seeds,
        generate: (rng) => packetHeaders(rng, seeds, "SIGNATURE"),
        maxBytes: ARMOR_LIMITS.signature + 1024,
        exitCodes: [3, 4],
        run: (input) => verifyDetached(data, input, key, "run.sh.sig"),
      };
    }
  }
}
