/**
 * openpgp.js settings that keep every artefact readable by GnuPG 2.2:
 * v4 keys and signatures, no AEAD (SEIPDv2) packets, iterated S2K for
 * protected keys. Passed to every call instead of mutating the global config.
 */
import { enums } from "openpgp";

export const PGP_CONFIG = {
  v6Keys: false,
  aeadProtect: false,
  s2kType: enums.s2k.iterated,
  preferredHashAlgorithm: enums.hash.sha512,
  preferredSymmetricAlgorithm: enums.symmetric.aes256,
  preferredCompressionAlgorithm: enums.compression.uncompressed,
} as const;
