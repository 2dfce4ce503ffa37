/**
 * openpgp.js settings that keep every artefact readable by GnuPG 2.2:
 * v4 keys and signatures, no AEAD (SEIPDv2) packets, iterated S2K for
 * protected keys; reading is bounded. Passed to every call instead of
 * mutating the global config.
 */
import { enums } from "openpgp";

export const PGP_CONFIG = {
  v6Keys: false,
  aeadProtect: false,
  s2kType: enums.s2k.iterated,
  preferredHashAlgorithm: enums.hash.sha512,
  preferredSymmetricAlgorithm: enums.symmetric.aes256,
  preferredCompressionAlgorithm: enums.compression.uncompressed,
  // A key's Argon2 S2K names its own memory: 2^21 KiB (2 GiB) took 8 s to refuse a wrong
  // passphrase. 128 MiB covers the keys OpenPGP tools make; larger is refused up front.
  maxArgon2MemoryExponent: 17,
  // A compressed packet may expand a thousandfold (850 bytes of bzip2 held 300 MiB); job
  // scripts are small.
  maxDecompressedMessageSize: 16 * 1024 * 1024,
} as const;
