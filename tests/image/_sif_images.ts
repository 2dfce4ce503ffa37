/**
 * Real test images, made the way Apptainer makes them: a squashfs payload
 * (mksquashfs when installed, else a squashfs-magic stub), for the LUKS2
 * format a real `cryptsetup luksFormat` partition whose passphrase is 64
 * random bytes, and that key RSA-OAEP-wrapped to the image's public key as a
 * PEM MESSAGE crypto message linked to the partition. The gocryptfs format
 * has the layout an unprivileged apptainer build writes (src/image/gocryptfs.ts):
 * a squashfs holding gocryptfs.conf and the root squashfs in gocryptfs' file
 * format, encrypted here with AES-256-GCM block by block as gocryptfs does
 * (gocryptfs itself, a FUSE program, is not installed; the wrapped master key
 * in the conf is random bytes of the right length).
 */
import { encodeSif, type SifObjectInput } from "../../src/image/sif_writer.ts";
import {
  CryptoFormat,
  CryptoMessageType,
  DataType,
  FsType,
  PartType,
} from "../../src/image/sif.ts";
import { wrapImageKey } from "../../src/image/crypto_message.ts";
import { importPublicKeyPem } from "../../src/image/keys.ts";

export type TestImageKind =
  | "luks2"
  | "gocryptfs"
  | "plain"
  | "luks2-passphrase"
  /** A plain squashfs with the gocryptfs mark: what must not pass as encrypted. */
  | "gocryptfs-forged";

export interface TestImageOptions {
  kind: TestImageKind;
  /** rsa_pub.pem text the image key is wrapped to (not needed for plain/passphrase). */
  publicPem?: string;
  /** Format the LUKS2 partition with this passphrase instead of the wrapped key (a mismatched image). */
  luksPassphrase?: Uint8Array;
  /** Replace the crypto message bytes (hostile-input tests). */
  message?: Uint8Array;
  definition?: string;
}

const LAUNCH = "#!/usr/bin/env run-singularity\n";

async function run(cmd: string, args: string[], stdin?: Uint8Array): Promise<void> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export async function hasMksquashfs(): Promise<boolean> {
  try {
    await run("mksquashfs", ["-version"]);
    return true;
  } catch {
    return false;
  }
}

/** A small squashfs with one file; a 4 KiB block with squashfs magic when mksquashfs is absent. */
async function squashfs(work: string): Promise<Uint8Array> {
  if (await hasMksquashfs()) {
    await Deno.mkdir(`${work}/rootfs/bin`, { recursive: true });
    await Deno.writeTextFile(`${work}/rootfs/bin/hello`, "#!/bin/sh\necho hello\n");
    await run("mksquashfs", [`${work}/rootfs`, `${work}/root.squashfs`, "-noappend", "-quiet"]);
    return await Deno.readFile(`${work}/root.squashfs`);
  }
  const stub = new Uint8Array(4096);
  stub.set([0x68, 0x73, 0x71, 0x73]);
  return stub;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** `payload` in gocryptfs' file format: header (version 2, file ID), then nonce + block + tag. */
export async function gocryptfsFile(payload: Uint8Array): Promise<Uint8Array> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const fileId = crypto.getRandomValues(new Uint8Array(16));
  const parts: Uint8Array[] = [new Uint8Array([0, 2]), fileId];
  for (let at = 0, block = 0; at < payload.length; at += 4096, block++) {
    const iv = crypto.getRandomValues(new Uint8Array(16));
    // Additional data as gocryptfs binds it: the block number and the file ID.
    const aad = new Uint8Array(24);
    new DataView(aad.buffer).setBigUint64(0, BigInt(block));
    aad.set(fileId, 8);
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad },
      key,
      payload.slice(at, at + 4096) as Uint8Array<ArrayBuffer>,
    );
    parts.push(iv, new Uint8Array(sealed));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** gocryptfs.conf as `gocryptfs -init -deterministic-names -plaintextnames` writes it. */
export function gocryptfsConf(): string {
  return JSON.stringify(
    {
      Creator: "gocryptfs v2.4.0",
      EncryptedKey: b64(crypto.getRandomValues(new Uint8Array(64))),
      ScryptObject: {
        Salt: b64(crypto.getRandomValues(new Uint8Array(32))),
        N: 65536,
        R: 8,
        P: 1,
        KeyLen: 32,
      },
      Version: 2,
      FeatureFlags: ["HKDF", "GCMIV128", "PlaintextNames"],
    },
    null,
    "\t",
  ) + "\n";
}

/** The partition: a squashfs of exactly gocryptfs.conf and the encrypted `name`. */
export async function gocryptfsPartition(
  work: string,
  files: { conf: string; name: string; content: Uint8Array },
): Promise<Uint8Array> {
  const cipher = `${work}/cipher`;
  await Deno.mkdir(cipher, { recursive: true });
  await Deno.writeTextFile(`${cipher}/gocryptfs.conf`, files.conf);
  await Deno.writeFile(`${cipher}/${files.name}`, files.content);
  const out = `${work}/partition.squashfs`;
  await run("mksquashfs", [
    `${cipher}/${files.name}`,
    `${cipher}/gocryptfs.conf`,
    out,
    "-noappend",
    "-quiet",
  ]);
  return await Deno.readFile(out);
}

/** A whole gocryptfs partition with a small root squashfs inside, made in a temporary directory. */
export async function makeGocryptfsPartition(): Promise<Uint8Array> {
  const work = await Deno.makeTempDir({ prefix: "sealbatch-gocryptfs-" });
  try {
    return await gocryptfsPartition(work, {
      conf: gocryptfsConf(),
      name: "squashfs-root.img",
      content: await gocryptfsFile(await squashfs(work)),
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** LUKS2 file of squashfs + 16 MiB as Apptainer sizes it; cheap PBKDF for tests. */
async function luks2Partition(
  work: string,
  payload: Uint8Array,
  passphrase: Uint8Array,
): Promise<Uint8Array> {
  const path = `${work}/partition.luks`;
  const f = await Deno.open(path, { create: true, write: true, truncate: true });
  await f.truncate(payload.length + 16 * 1024 * 1024);
  f.close();
  await run("cryptsetup", [
    "luksFormat",
    "--batch-mode",
    "--type",
    "luks2",
    "--disable-locks",
    "--pbkdf",
    "pbkdf2",
    "--pbkdf-force-iterations",
    "1000",
    "--key-file",
    "-",
    path,
  ], passphrase);
  // Ciphertext is not written (no device-mapper here); the header is what inspect checks.
  return await Deno.readFile(path);
}

/** Build a complete SIF image at `out`. */
export async function makeTestImage(out: string, opts: TestImageOptions): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "sealbatch-sif-" });
  try {
    const payload = await squashfs(work);
    const key = crypto.getRandomValues(new Uint8Array(64));
    let fsType: number = FsType.Squashfs;
    let partition = payload;
    if (opts.kind === "luks2" || opts.kind === "luks2-passphrase") {
      fsType = FsType.EncryptedSquashfs;
      partition = await luks2Partition(work, payload, opts.luksPassphrase ?? key);
    } else if (opts.kind === "gocryptfs") {
      fsType = FsType.GocryptfsSquashfs;
      partition = await gocryptfsPartition(work, {
        conf: gocryptfsConf(),
        name: "squashfs-root.img",
        content: await gocryptfsFile(payload),
      });
    } else if (opts.kind === "gocryptfs-forged") {
      fsType = FsType.GocryptfsSquashfs;
    }
    const objects: SifObjectInput[] = [
      {
        dataType: DataType.Deffile,
        data: new TextEncoder().encode(opts.definition ?? "Bootstrap: scratch\n"),
      },
      {
        dataType: DataType.Partition,
        data: partition,
        partition: { fsType, partType: PartType.PrimSys, arch: "amd64" },
      },
    ];
    if (opts.kind === "luks2" || opts.kind === "gocryptfs") {
      const message = opts.message ??
        new TextEncoder().encode(
          await wrapImageKey(await importPublicKeyPem(opts.publicPem!, "test key"), key),
        );
      objects.push({
        dataType: DataType.CryptoMessage,
        data: message,
        linkedId: 2,
        cryptoMessage: { format: CryptoFormat.PEM, messageType: CryptoMessageType.RSAOAEP },
      });
    }
    await Deno.writeFile(out, encodeSif({ launchScript: LAUNCH, objects }));
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
