/**
 * Directory trees on the host side: what a source directory holds (and
 * whether it can be sealed), whether an extracted tree is exactly what the
 * image listed, and moving an extracted tree into place without ever
 * following a symlink.
 */
import { inputError, q } from "../util/errors.ts";
import type { Inventory } from "./ext4.ts";

const BLOCK = 4096;

export interface SourceStats {
  /** Bytes of 4 KiB blocks that file data, directories and long symlinks need. */
  contentBytes: number;
  /** Number of entries below the root (each needs an inode, hard links once). */
  entries: number;
}

function specialKind(info: Deno.FileInfo): string | undefined {
  if (info.isFifo) return "a fifo";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return undefined;
}

/**
 * Walk `root` without following symlinks. Special files are refused: ext4
 * could hold them, but they are never data and a device node in a container
 * is a way to reach hardware on the machine that opens it.
 */
export async function scanSource(root: string, revealNames: boolean): Promise<SourceStats> {
  const stats: SourceStats = { contentBytes: BLOCK, entries: 0 };
  const seen = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let dirBytes = 24;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (err) {
      throw inputError(
        `cannot seal: cannot read directory ${revealNames ? q(dir) : "(name withheld)"}: ${
          (err as Error).message
        }`,
      );
    }
    for (const entry of entries) {
      const path = `${dir}/${entry.name}`;
      const info = await Deno.lstat(path);
      const special = specialKind(info);
      if (special !== undefined) {
        throw inputError(
          revealNames
            ? `cannot seal ${
              q(path)
            }: it is ${special}; only files, directories and symlinks can be sealed`
            : `cannot seal the directory: it holds ${special}; only files, directories and symlinks can be sealed`,
          { hint: "move special files out of the directory" },
        );
      }
      dirBytes += 8 + Math.ceil(new TextEncoder().encode(entry.name).length / 4) * 4;
      stats.entries++;
      if (info.isDirectory) {
        await walk(path);
      } else if (info.isSymlink) {
        // Targets up to 59 bytes live inside the inode ("fast" symlinks).
        if (info.size > 59) stats.contentBytes += BLOCK;
      } else {
        if ((info.nlink ?? 1) > 1) {
          const id = `${info.dev}:${info.ino}`;
          if (seen.has(id)) continue;
          seen.add(id);
        }
        stats.contentBytes += Math.ceil(info.size / BLOCK) * BLOCK;
      }
    }
    stats.contentBytes += Math.ceil(dirBytes / BLOCK) * BLOCK;
  };
  await walk(root);
  return stats;
}

/**
 * Check that `root` holds exactly the inventory: same paths, types, sizes and
 * permission bits. debugfs keeps going after write errors (a full disk), so
 * the result is checked, not its exit status.
 */
export async function verifyTree(root: string, inventory: Inventory): Promise<void> {
  let count = 0;
  const mismatch = () =>
    inputError("cannot open the container: the extracted files differ from its listing", {
      hint: "the disk may be full, or the file system in the container is damaged",
    });
  const walk = async (dir: string, rel: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const want = inventory.get(childRel);
      if (want === undefined) throw mismatch();
      count++;
      const info = await Deno.lstat(`${dir}/${entry.name}`);
      const type = info.isDirectory
        ? "dir"
        : info.isSymlink
        ? "symlink"
        : info.isFile
        ? "file"
        : "";
      if (type !== want.type) throw mismatch();
      if (type === "file" && info.size !== want.size) throw mismatch();
      if (type === "symlink") {
        const target = await Deno.readLink(`${dir}/${entry.name}`);
        if (new TextEncoder().encode(target).length !== want.size) throw mismatch();
      }
      if (type !== "symlink" && ((info.mode ?? 0) & 0o777) !== (want.mode & 0o777)) {
        throw mismatch();
      }
      if (type === "dir") await walk(`${dir}/${entry.name}`, childRel);
    }
  };
  await walk(root, "");
  if (count !== inventory.size) throw mismatch();
}

/** True when `path` is missing or an empty real directory (not a symlink). */
export async function isFreeTarget(path: string): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return true;
    throw err;
  }
  if (!info.isDirectory) return false;
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/**
 * Move the contents of `src` into `dest`. A missing or empty `dest` is
 * replaced in one rename; otherwise entries are merged, existing files are
 * replaced only with `force`, and a symlink in `dest` is replaced, never
 * followed.
 */
export async function placeTree(src: string, dest: string, force: boolean): Promise<void> {
  if (await isFreeTarget(dest)) {
    await Deno.rename(src, dest);
    return;
  }
  if (!force) {
    throw inputError(`cannot write into ${q(dest)}: it exists and is not empty`, {
      hint: "choose a new directory, or pass --force to merge and overwrite",
    });
  }
  const destInfo = await Deno.lstat(dest);
  if (!destInfo.isDirectory) {
    throw inputError(`cannot write into ${q(dest)}: it is not a directory`);
  }
  await Deno.chmod(dest, (await Deno.lstat(src)).mode! & 0o7777);
  for await (const entry of Deno.readDir(src)) {
    const from = `${src}/${entry.name}`;
    const to = `${dest}/${entry.name}`;
    let existing: Deno.FileInfo | undefined;
    try {
      existing = await Deno.lstat(to);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (existing?.isDirectory && entry.isDirectory) {
      await placeTree(from, to, force);
      continue;
    }
    if (existing) await Deno.remove(to, { recursive: true });
    await Deno.rename(from, to);
  }
}
