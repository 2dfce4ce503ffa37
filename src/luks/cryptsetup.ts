/**
 * The cryptsetup calls sealbatch makes. Keys always travel on stdin
 * (`--key-file -`), never in argv or the environment. Locks are disabled
 * because the lock directory (/run/cryptsetup) is root-only and these calls
 * work on private image files, not on shared block devices.
 */
import { dirname, resolve } from "node:path";
import { inputError, q, refusal } from "../util/errors.ts";
import { exec } from "../util/exec.ts";
import type { Jobs } from "./jobs.ts";

/** Every reencrypt here works on a private file nobody else opens; the key comes on stdin. */
const OFFLINE = ["--force-offline-reencrypt", "--disable-locks", "--batch-mode", "--key-file", "-"];

/**
 * The small LUKS2 header of containers sealbatch makes: two 16 KiB metadata
 * copies and a 256 KiB key slot area. One key slot holds the 512-bit volume
 * key split into 4000 anti-forensic stripes: 64 x 4000 = 256000 bytes, 258048
 * aligned to 4 KiB, so it fits. cryptsetup's default, 16 MiB of header, would
 * be most of a small job's upload.
 */
export const HEADER_ARGS = ["--luks2-metadata-size", "16k", "--luks2-keyslots-size", "256k"];
/**
 * Free tail `reencrypt --encrypt` needs: twice the header (man page). The data
 * then starts at half of it, 512 KiB, which the header above fits (cryptsetup
 * widens the key slot area up to the data).
 */
export const REDUCE_BYTES = 1024 * 1024;
/** Size of the header and key slot area at the start of containers sealbatch makes. */
export const HEADER_BYTES = REDUCE_BYTES / 2;

/**
 * The key derivation for a key file of 64 random bytes. A KDF only slows down
 * guessing of low-entropy passphrases; nobody can guess 512 random bits, so the
 * minimum PBKDF2 cost (1000 iterations, well under a millisecond) loses nothing,
 * while argon2id's defaults would make each node that opens the container
 * spend up to 1 GiB of memory and about 2 s of CPU.
 */
export const KDF_ARGS = [
  "--pbkdf",
  "pbkdf2",
  "--hash",
  "sha256",
  "--pbkdf-force-iterations",
  "1000",
];

/** Encrypt a plain image in place into LUKS2 (needs REDUCE_BYTES of free tail). */
export async function encryptInPlace(jobs: Jobs, image: string, key: Uint8Array): Promise<void> {
  // Absolute, because cryptsetup runs in the image's directory (below).
  const path = resolve(image);
  await jobs.run("cryptsetup", [
    "reencrypt",
    "--encrypt",
    "--type",
    "luks2",
    "--cipher",
    "aes-xts-plain64",
    "--key-size",
    "512",
    "--sector-size",
    "4096",
    ...KDF_ARGS,
    ...HEADER_ARGS,
    "--reduce-device-size",
    `${REDUCE_BYTES / 1024}k`,
    ...OFFLINE,
    path,
  ], {
    stdin: key,
    // reencrypt --encrypt writes a temporary header file into its working directory.
    cwd: dirname(path),
    what: "cannot encrypt the container",
  });
}

/**
 * Step one of decrypting private data in place, described by a detached
 * header whose data starts at offset 0 (see detach.ts). No resilience: the
 * copy is thrown away if anything fails.
 *
 * This step unlocks a key slot and writes the reencryption state into the
 * header; it reads no data, so it runs while the data is still being copied.
 * It costs cryptsetup about a second of CPU: the reencryption digest is
 * stored with a PBKDF2 benchmark that no option of `reencrypt --decrypt`
 * turns off.
 */
export async function startDecrypt(
  jobs: Jobs,
  data: string,
  header: string,
  key: Uint8Array,
): Promise<void> {
  await decryptStep(jobs, ["--decrypt", "--init-only", "--resilience", "none"], data, header, key);
}

/** Step two: decrypt the data (after startDecrypt and the copy). */
export async function finishDecrypt(
  jobs: Jobs,
  data: string,
  header: string,
  key: Uint8Array,
): Promise<void> {
  await decryptStep(jobs, ["--resume-only"], data, header, key);
}

function decryptStep(
  jobs: Jobs,
  step: string[],
  data: string,
  header: string,
  key: Uint8Array,
): Promise<unknown> {
  return jobs.run("cryptsetup", ["reencrypt", ...step, "--header", header, ...OFFLINE, data], {
    stdin: key,
    what: "cannot decrypt the container",
  });
}

/** True when a key slot of `image` opens with `key` (exit 2 means no slot does). */
export async function keyOpens(jobs: Jobs, image: string, key: Uint8Array): Promise<boolean> {
  const res = await jobs.run("cryptsetup", [
    "open",
    "--test-passphrase",
    "--disable-locks",
    "--key-file",
    "-",
    image,
  ], { stdin: key, okCodes: [0, 2], what: `cannot test the key on ${q(image)}` });
  return res.code === 0;
}

/** Throw the right refusal when the key does not open the container. */
export function wrongKey(image: string, slotDamaged: boolean | undefined): never {
  if (slotDamaged) {
    throw inputError(
      `cannot open ${
        q(image)
      }: its key slot area is damaged (the key is right, the slot no longer decrypts)`,
      { hint: "restore the container from a good copy" },
    );
  }
  throw refusal(`cannot open ${q(image)}: the key does not open it (wrong key file)`, {
    hint: "use the key file that was created together with the container",
  });
}

/**
 * Device-mapper is usable: running as root and cryptsetup can talk to the
 * kernel driver. (Asked through cryptsetup: Deno's permission model keeps
 * /dev/mapper and /proc out of reach of a process without --allow-all.)
 */
export async function hasDeviceMapper(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  try {
    const res = await exec("cryptsetup", ["status", "sealbatch-probe"], { okCodes: [0, 1, 4] });
    return !/device-mapper/i.test(res.stderr + res.text);
  } catch {
    return false;
  }
}

/** True when the device-mapper mapping `name` is active. */
export async function mappingActive(jobs: Jobs, name: string): Promise<boolean> {
  const res = await jobs.run("cryptsetup", ["status", name], { okCodes: [0, 1, 4] });
  return res.code === 0;
}

/** Privileged path: map the container (cryptsetup sets up the loop device). */
export async function openMapping(
  jobs: Jobs,
  image: string,
  name: string,
  key: Uint8Array,
): Promise<void> {
  await jobs.run("cryptsetup", ["open", "--type", "luks2", "--key-file", "-", image, name], {
    stdin: key,
    what: `cannot open ${q(image)}`,
  });
}

export async function closeMapping(jobs: Jobs, name: string): Promise<void> {
  await jobs.run("cryptsetup", ["close", name], { what: `cannot close mapping ${q(name)}` });
}
