/**
 * What a SIF partition marked "Gocryptfs squashfs" must hold to be called
 * encrypted. An unprivileged `apptainer build --pem-path` (Apptainer >= 1.2)
 * squashes the root file system into a plain squashfs inside a gocryptfs
 * volume (`gocryptfs -init -deterministic-names -plaintextnames`), then
 * squashes the volume's cipher directory, that is exactly two files, into the
 * partition:
 *
 *   gocryptfs.conf   JSON: Version 2, the master key wrapped under scrypt
 *   NAME             the encrypted squashfs, in gocryptfs' file format: an
 *                    18-byte header (version 2, a random 16-byte file ID),
 *                    then blocks of nonce + up to 4096 bytes + tag
 *
 * (With -plaintextnames there is no gocryptfs.diriv and names are not
 * encrypted.) The mark alone proves nothing: a plain squashfs relabelled
 * passes a magic check. This reads the partition's directory and these two
 * files with unsquashfs (squashfs-tools, which Apptainer itself needs) and
 * checks all of the above; anything else is not called encrypted.
 * Without a key, the ciphertext itself cannot be verified: its layout is.
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";
import { exec } from "../util/exec.ts";

export interface GocryptfsReport {
  /** The encrypted squashfs inside the partition. */
  file: string;
  bytes: number;
  /** Content encryption, from the feature flags. */
  cipher: "AES-256-GCM" | "AES-SIV-512" | "XChaCha20-Poly1305";
  /** `Creator` of gocryptfs.conf, e.g. "gocryptfs v2.4.0". */
  creator: string;
  featureFlags: string[];
}

const CONF = "gocryptfs.conf";
const MAX_CONF_BYTES = 64 * 1024;
const HEADER_BYTES = 18;
const BLOCK_BYTES = 4096;
/** Per-block overhead (nonce + tag) of each content cipher gocryptfs has. */
const CIPHERS = {
  GCMIV128: { name: "AES-256-GCM", overhead: 32 },
  AESSIV: { name: "AES-SIV-512", overhead: 32 },
  XChaCha20Poly1305: { name: "XChaCha20-Poly1305", overhead: 40 },
} as const;

interface Entry {
  type: string;
  size: number;
  name: string;
}

/** `unsquashfs -lln` of the squashfs at `offset` in `image`: the root's entries. */
async function listRoot(image: string, offset: number, what: string): Promise<Entry[]> {
  const r = await exec("unsquashfs", [
    "-no-progress",
    "-o",
    String(offset),
    "-lln",
    "-max-depth",
    "1",
    image,
  ], { what, requireOutput: true });
  const entries: Entry[] = [];
  for (const line of r.text.split("\n")) {
    if (line.trim() === "") continue;
    const m = /^(\S)\S*\s+\d+\/\d+\s+(\d+)\s+\S+\s+\S+\s+squashfs-root(?:\/(.+))?$/.exec(line);
    if (!m) throw inputError(`${what}: unexpected entry in its listing`);
    if (m[3] === undefined) continue; // the root itself
    entries.push({ type: m[1]!, size: Number(m[2]), name: m[3] });
  }
  return entries;
}

/** The first `max` bytes of a file in the squashfs; unsquashfs stops when the pipe closes. */
async function head(
  image: string,
  offset: number,
  name: string,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const r = await exec("unsquashfs", ["-no-progress", "-o", String(offset), "-cat", image, name], {
    what,
    stdoutMax: max,
    // 141: ended by SIGPIPE once we had enough (a squashfs error exits 1, and is reported).
    okCodes: [0, 141],
  });
  return r.stdout;
}

function base64Bytes(value: unknown): number {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/=_-]+$/.test(value)) return 0;
  return Math.floor(value.replace(/=+$/, "").length * 3 / 4);
}

/** The fields of gocryptfs.conf that make it a gocryptfs v2 volume key; returns the cipher flag. */
function checkConf(text: string, fail: (why: string) => never): {
  flag: keyof typeof CIPHERS;
  creator: string;
  flags: string[];
} {
  let conf: Record<string, unknown>;
  try {
    conf = JSON.parse(text);
  } catch {
    fail(`${CONF} is not JSON`);
  }
  if (typeof conf !== "object" || conf === null) fail(`${CONF} is not a JSON object`);
  const creator = conf.Creator;
  if (typeof creator !== "string" || !creator.startsWith("gocryptfs")) {
    fail(`${CONF} was not written by gocryptfs (Creator)`);
  }
  if (conf.Version !== 2) fail(`${CONF} has version ${JSON.stringify(conf.Version)}, not 2`);
  // A 32-byte master key, AES-GCM-wrapped: nonce + key + tag.
  if (base64Bytes(conf.EncryptedKey) < 48) fail(`${CONF} holds no wrapped master key`);
  const scrypt = conf.ScryptObject as Record<string, unknown> | undefined;
  if (
    typeof scrypt !== "object" || scrypt === null || base64Bytes(scrypt.Salt) < 16 ||
    !Number.isInteger(scrypt.N) || (scrypt.N as number) < 1024 || scrypt.KeyLen !== 32
  ) {
    fail(`${CONF} has no valid scrypt parameters`);
  }
  const flags = conf.FeatureFlags;
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === "string")) {
    fail(`${CONF} has no feature flags`);
  }
  const ciphers = (flags as string[]).filter((f): f is keyof typeof CIPHERS => f in CIPHERS);
  // Without one of these, gocryptfs v2 uses AES-GCM with 128-bit nonces all the same.
  return { flag: ciphers[0] ?? "GCMIV128", creator, flags: flags as string[] };
}

/** Size of a gocryptfs content file for some plaintext: header + full blocks + a partial one. */
function plausibleSize(bytes: number, overhead: number): boolean {
  if (bytes <= HEADER_BYTES) return false;
  const rest = (bytes - HEADER_BYTES) % (BLOCK_BYTES + overhead);
  return rest === 0 || rest > overhead;
}

/**
 * Check the squashfs at `offset` (the partition) of `image` for the layout
 * above; throws a one-line input error naming what is missing.
 */
export async function probeGocryptfs(
  image: string,
  offset: number,
  partitionId: number,
): Promise<GocryptfsReport> {
  const what = `image ${q(image)}: partition ${partitionId} is marked "Gocryptfs squashfs"`;
  const fail: (why: string) => never = (why) => {
    throw inputError(`${what} but is not a gocryptfs volume: ${why}`, {
      hint: "checked: a squashfs whose root holds gocryptfs.conf (v2) and one file in " +
        "gocryptfs' encrypted format, as an unprivileged apptainer build writes it",
    });
  };
  let entries: Entry[];
  try {
    entries = await listRoot(image, offset, `cannot read the squashfs of partition ${partitionId}`);
  } catch (err) {
    if (err instanceof SealbatchError && /is not installed/.test(err.message)) {
      throw new SealbatchError(
        "tool",
        `${what}; whether it is encrypted cannot be checked: unsquashfs is not installed`,
        { hint: "install squashfs-tools (Debian: apt-get install squashfs-tools)" },
      );
    }
    if (err instanceof SealbatchError && err.kind === "tool") fail("not a readable squashfs");
    throw err;
  }
  const conf = entries.find((e) => e.name === CONF);
  const others = entries.filter((e) => e.name !== CONF);
  if (conf === undefined) {
    fail(`no ${CONF} at its root (found ${entries.length} other entries)`);
  }
  if (conf.type !== "-" || conf.size > MAX_CONF_BYTES) fail(`${CONF} is not a small regular file`);
  const file = others[0];
  if (others.length !== 1 || file === undefined || file.type !== "-") {
    fail(`its root holds ${others.length} entries beside ${CONF}, not one encrypted file`);
  }
  const confText = new TextDecoder().decode(
    await head(image, offset, CONF, MAX_CONF_BYTES, `cannot read ${CONF}`),
  );
  const { flag, creator, flags } = checkConf(confText, fail);
  const cipher = CIPHERS[flag];
  if (!plausibleSize(file.size, cipher.overhead)) {
    fail(`${q(file.name)} has a size (${file.size}) no gocryptfs file can have`);
  }
  const header = await head(image, offset, file.name, HEADER_BYTES, `cannot read ${q(file.name)}`);
  if (header.length !== HEADER_BYTES || header[0] !== 0 || header[1] !== 2) {
    fail(`${q(file.name)} does not start with a gocryptfs file header (version 2)`);
  }
  if (header.subarray(2).every((b) => b === 0)) fail(`${q(file.name)} has an empty file ID`);
  return { file: file.name, bytes: file.size, cipher: cipher.name, creator, featureFlags: flags };
}
