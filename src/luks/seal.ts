/**
 * `data seal`, rootless: an ext4 image is built from the directory without
 * mounting (mkfs.ext4 -d), encrypted in place into standard LUKS2
 * (cryptsetup reencrypt --encrypt), and moved to the output last. The
 * plaintext image exists only inside a private work directory.
 */
import { onCleanup } from "../util/cleanup.ts";
import { inputError, q, reason, SealbatchError } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import { readSecretFile, writeSecretFile } from "../util/secret_file.ts";
import { encryptInPlace, HEADER_BYTES, REDUCE_BYTES } from "./cryptsetup.ts";
import { makeExt4, TooSmall } from "./ext4.ts";
import { type LuksHeader, readLuksHeader } from "./header.ts";
import { checkpoint, Jobs } from "./jobs.ts";
import { keycheckToken } from "./keycheck.ts";
import { addToken } from "./token.ts";
import { minimumBytes, planFs } from "./size.ts";
import type { Headroom } from "./size.ts";
import { scanSource } from "./tree.ts";
import { availableBytes, workDir } from "./workdir.ts";

const MiB = 1024 * 1024;
export const KEY_BYTES = 64;
/** cryptsetup reads at most 8 MiB of key file. */
export const MAX_KEY_BYTES = 8 * MiB;

export interface SealOptions {
  source: string;
  out: string;
  /** The key file, and whether to create it (new random key) or read it. */
  key: { path: string; create: boolean };
  size: "auto" | number;
  headroom?: Headroom;
  /** Messages may name files (client); false on the node. */
  revealNames: boolean;
  /** Root for the private work directory (node work_dir); default memory-backed. */
  workBase?: string;
  onPhase?: (phase: string) => void;
  /** Run mkfs and cryptsetup at a lower CPU priority (a cohort's sealing, see ExecOptions). */
  background?: boolean;
}

export interface SealResult {
  out: string;
  keyPath: string;
  keyCreated: boolean;
  uuid: string;
  fsBytes: number;
  containerBytes: number;
  /** The work directory had to be on disk next to the output. */
  workedNearOutput: boolean;
}

export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** A key for a new container: 64 bytes from the OS CSPRNG. */
export function newKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_BYTES));
}

export async function loadKey(path: string): Promise<Uint8Array> {
  const key = await readSecretFile(path, { maxBytes: MAX_KEY_BYTES, label: "key file" });
  if (key.length === 0) throw inputError(`cannot use key file ${q(path)}: it is empty`);
  return key;
}

async function checkSource(source: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(source);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw inputError(`cannot seal ${q(source)}: no such directory`);
    }
    throw inputError(`cannot seal ${q(source)}: ${(err as Error).message}`);
  }
  if (!info.isDirectory) throw inputError(`cannot seal ${q(source)}: not a directory`);
}

/** Move (same file system) or copy the finished container to a temporary sibling of `out`. */
async function stage(image: string, tmp: string): Promise<void> {
  try {
    await Deno.rename(image, tmp);
  } catch {
    await Deno.copyFile(image, tmp);
    await Deno.remove(image);
  }
}

/**
 * Give `tmp` the name `out` unless `out` exists: link() refuses an existing
 * name atomically; file systems without hard links get a checked rename.
 */
async function placeNoOverwrite(tmp: string, out: string): Promise<void> {
  try {
    await Deno.link(tmp, out);
    await Deno.remove(tmp);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists || (await exists(out))) throw err;
    await Deno.rename(tmp, out);
  }
}

/**
 * `reencrypt --encrypt` writes the header over the start of the plain file
 * system but leaves the bytes between the end of the key slot and the data
 * as they were: the file system's first blocks, in plaintext (file data and
 * names when the file system is small). They are zeroed before the container
 * leaves the private work directory.
 */
async function wipeHeaderGap(image: string, header: LuksHeader): Promise<void> {
  const start = Math.max(
    2 * header.headerSize,
    ...header.keyslots.map((k) => k.areaOffset + k.areaSize),
  );
  if (header.dataOffset <= start) return;
  const file = await Deno.open(image, { write: true });
  try {
    await file.seek(start, Deno.SeekMode.Start);
    const zeros = new Uint8Array(header.dataOffset - start);
    for (let put = 0; put < zeros.length;) put += await file.write(zeros.subarray(put));
  } finally {
    file.close();
  }
}

export async function sealDirectory(o: SealOptions): Promise<SealResult> {
  const phase = o.onPhase ?? (() => {});
  await checkSource(o.source);
  if (await exists(o.out)) {
    throw inputError(`cannot write ${q(o.out)}: it already exists`, {
      hint: "sealbatch never overwrites a container; remove it or choose another --out",
    });
  }
  if (!(await exists(dirOf(o.out)))) {
    throw inputError(`cannot write ${q(o.out)}: directory ${q(dirOf(o.out))} does not exist`);
  }
  if (o.key.create && (await exists(o.key.path))) {
    throw inputError(`cannot create key file ${q(o.key.path)}: it already exists`, {
      hint: "pass --key to seal with that existing key, or move it away",
    });
  }
  const key = o.key.create ? newKey() : await loadKey(o.key.path);

  phase("scanning");
  const stats = await scanSource(o.source, o.revealNames);
  const least = minimumBytes(stats);
  if (o.size !== "auto" && o.size < least) {
    throw inputError(
      `cannot seal into ${o.size / MiB} MiB: the content needs at least ${
        Math.ceil(least / MiB)
      } MiB`,
      { hint: "use --size auto, or a larger --size" },
    );
  }
  let plan = planFs(stats, o.size, o.headroom);

  const work = await workDir(
    "sealbatch-seal",
    plan.bytes * 1.3 + REDUCE_BYTES,
    dirOf(o.out),
    o.workBase,
  );
  try {
    await using jobs = new Jobs({ background: o.background ?? false });
    const image = `${work.path}/container.img`;
    for (let attempt = 1;; attempt++) {
      phase("building the file system");
      try {
        await makeExt4(jobs, {
          source: o.source,
          image,
          bytes: plan.bytes,
          inodes: plan.inodes,
          revealNames: o.revealNames,
        });
        break;
      } catch (err) {
        if (!(err instanceof TooSmall)) throw err;
        await Deno.remove(image);
        if (o.size !== "auto") {
          throw inputError(`cannot seal into ${o.size / MiB} MiB: the content does not fit`, {
            hint: "use --size auto, or a larger --size",
          });
        }
        if (attempt === 3) {
          throw inputError("cannot seal: the file system size estimate failed three times");
        }
        plan = { ...plan, bytes: Math.ceil((plan.bytes * 1.25) / MiB) * MiB };
      }
    }
    phase("encrypting");
    await Deno.truncate(image, plan.bytes + REDUCE_BYTES);
    await encryptInPlace(jobs, image, key).catch(async (err) => {
      // cryptsetup reports a full disk only as a failed metadata or hotzone write.
      const free = await availableBytes(work.path);
      if (free >= 64 * MiB) throw err;
      throw new SealbatchError(
        "tool",
        `cannot encrypt the container: the work directory is full (${
          Math.floor(free / MiB)
        } MiB free)`,
        { hint: "free space, or point --work-dir or XDG_RUNTIME_DIR at a larger file system" },
      );
    });
    // The data segment runs to the end of the file: drop the scratch tail so
    // the device is exactly header + file system.
    await Deno.truncate(image, HEADER_BYTES + plan.bytes);
    const header = await readLuksHeader(image);
    await wipeHeaderGap(image, header);
    await addToken(image, header, keycheckToken(key, header.uuid));

    phase("writing the container");
    const tmp = `${o.out}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    // Until the container has its name, a new key file is removed with the
    // temporary (on failure and on Ctrl-C): a key without container is litter.
    let placed = false;
    let keyWritten = false;
    const undo = onCleanup(async () => {
      await Deno.remove(tmp).catch(() => {});
      if (!placed && keyWritten) await Deno.remove(o.key.path).catch(() => {});
    });
    try {
      await stage(image, tmp);
      await checkpoint();
      if (o.key.create) {
        await writeSecretFile(o.key.path, key);
        keyWritten = true;
      }
      try {
        await placeNoOverwrite(tmp, o.out);
        placed = true;
      } catch (err) {
        throw inputError(`cannot write ${q(o.out)}: ${(err as Error).message}`);
      }
    } finally {
      await undo();
    }
    return {
      out: o.out,
      keyPath: o.key.path,
      keyCreated: o.key.create,
      uuid: header.uuid,
      fsBytes: plan.bytes,
      containerBytes: HEADER_BYTES + plan.bytes,
      workedNearOutput: work.nearOutput,
    };
  } catch (err) {
    if (err instanceof SealbatchError) throw err;
    const why = o.revealNames
      ? reason(err)
      : `${(err as Error).name ?? "error"} (details withheld)`;
    throw new SealbatchError("tool", `cannot seal ${q(o.source)}: ${why}`, { cause: err });
  } finally {
    await work.remove();
  }
}
