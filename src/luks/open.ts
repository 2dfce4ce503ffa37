/**
 * `data open`, rootless: a private copy of the container is decrypted in place
 * (its header moves out to a detached file), the ext4 inside is listed and
 * checked, dumped with debugfs into a private directory next to the target,
 * verified against the listing and moved into place last.
 */
import { resolve } from "node:path";
import { inputError, q, reason, SealbatchError } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import { makePrivateDir, wipeFile } from "../util/secret_file.ts";
import { finishDecrypt, keyOpens, startDecrypt, wrongKey } from "./cryptsetup.ts";
import { copyData, detachHeader } from "./detach.ts";
import { dumpExt4, ext4Bytes, listExt4 } from "./ext4.ts";
import { readLuksHeader } from "./header.ts";
import type { LuksHeader } from "./header.ts";
import { checkpoint, Jobs } from "./jobs.ts";
import { keyMatchesCheck } from "./keycheck.ts";
import { dirOf, loadKey } from "./seal.ts";
import { isFreeTarget, placeTree, verifyTree } from "./tree.ts";
import { workDir } from "./workdir.ts";

export interface OpenOptions {
  image: string;
  keyPath: string;
  out: string;
  /** Merge into a non-empty `out`, replacing files. */
  force: boolean;
  /** Messages may carry system error details that name files (client); false on the node. */
  revealNames: boolean;
  /** Root for the private work directory (node work_dir); default memory-backed. */
  workBase?: string;
  onPhase?: (phase: string) => void;
}

export interface OpenResult {
  out: string;
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  /** True when no memory-backed storage had room: the decrypted image was staged on disk. */
  workedNearOutput: boolean;
}

/** Header checks that must pass before a key is used on the container. */
export async function usableHeader(image: string): Promise<LuksHeader> {
  const header = await readLuksHeader(image);
  if (header.requirements.length > 0) {
    throw inputError(
      `cannot open ${q(image)}: it needs ${
        header.requirements.join(", ")
      } (an unfinished reencryption?)`,
      { hint: "finish it with cryptsetup reencrypt --resume-only on a copy" },
    );
  }
  return header;
}

/** Refuse a wrong key before anything is copied or decrypted. */
export async function checkKey(
  jobs: Jobs,
  image: string,
  header: LuksHeader,
  key: Uint8Array,
): Promise<void> {
  if (!(await keyOpens(jobs, image, key))) wrongKey(image, keyMatchesCheck(header, key));
}

export async function openContainer(o: OpenOptions): Promise<OpenResult> {
  const phase = o.onPhase ?? (() => {});
  if (!o.force && !(await isFreeTarget(o.out))) {
    throw inputError(`cannot open into ${q(o.out)}: it exists and is not empty`, {
      hint: "choose a new directory, or pass --force to merge and overwrite",
    });
  }
  const parent = dirOf(o.out);
  if (!(await exists(parent))) {
    throw inputError(`cannot open into ${q(o.out)}: directory ${q(parent)} does not exist`);
  }
  const header = await usableHeader(o.image);
  const key = await loadKey(o.keyPath);

  const work = await workDir(
    "sealbatch-open",
    header.fileSize * 1.1 + 64 * 1024 * 1024,
    parent,
    o.workBase,
  );
  let staging: { path: string; remove(): Promise<void> } | undefined;
  try {
    await using jobs = new Jobs();
    phase("checking the key");
    const plain = `${work.path}/plain.img`;
    const detached = `${work.path}/header.img`;
    // The encrypted data is copied while cryptsetup checks the key and
    // prepares the decryption: nothing is decrypted before the check passes,
    // and a wrong key stops the copy.
    await detachHeader(o.image, header, detached, plain);
    const stop = new AbortController();
    const [checked, started, copied] = await Promise.allSettled([
      checkKey(jobs, o.image, header, key).catch((err) => {
        stop.abort();
        throw err;
      }),
      startDecrypt(jobs, plain, detached, key),
      copyData(o.image, header, plain, stop.signal),
    ]);
    if (checked.status === "rejected") throw checked.reason;
    if (copied.status === "rejected") throw copied.reason;
    if (started.status === "rejected") throw started.reason;

    phase("decrypting");
    await finishDecrypt(jobs, plain, detached, key);
    await Deno.remove(detached);
    const need = await ext4Bytes(plain);
    const have = header.dataSize;
    if (need > have) {
      throw inputError(
        `cannot open ${
          q(o.image)
        }: the container is truncated (its file system needs ${need} bytes, ${have} are there)`,
        { hint: "copy or download the container again" },
      );
    }

    phase("extracting");
    const inventory = await listExt4(jobs, plain);
    // Extract next to the target so the final move is a rename on one file system.
    staging = await makePrivateDir(".sealbatch-open", { base: resolve(parent) });
    const tree = `${staging.path}/tree`;
    await Deno.mkdir(tree, { mode: 0o700 });
    await dumpExt4(jobs, plain, tree);
    const lostFound = inventory.get("lost+found");
    const lostFoundEmpty = ![...inventory.keys()].some((p) => p.startsWith("lost+found/"));
    if (lostFound?.type === "dir" && lostFoundEmpty) {
      // mkfs.ext4 creates it; it is not part of the sealed data.
      inventory.delete("lost+found");
      await Deno.remove(`${tree}/lost+found`);
    }
    await verifyTree(tree, inventory);
    await wipeFile(plain);
    await checkpoint();
    await placeTree(tree, o.out, o.force);

    const entries = [...inventory.values()];
    return {
      out: o.out,
      files: entries.filter((e) => e.type === "file").length,
      directories: entries.filter((e) => e.type === "dir").length,
      symlinks: entries.filter((e) => e.type === "symlink").length,
      bytes: entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0),
      workedNearOutput: work.nearOutput,
    };
  } catch (err) {
    if (err instanceof SealbatchError) throw err;
    const why = o.revealNames
      ? reason(err)
      : `${(err as Error).name ?? "error"} (details withheld)`;
    throw new SealbatchError("tool", `cannot open ${q(o.image)}: ${why}`, { cause: err });
  } finally {
    await staging?.remove();
    await work.remove();
  }
}
