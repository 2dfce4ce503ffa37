/**
 * ext4 without mounting: `mkfs.ext4 -d` builds a populated image, `debugfs`
 * lists and dumps one. Listing happens before dumping so that a hostile image
 * (names with "/", directory cycles, special files) is refused before any of
 * its files is written.
 */
import { resolve } from "node:path";
import { inputError, SealbatchError } from "../util/errors.ts";
import type { Jobs } from "./jobs.ts";

export type EntryType = "dir" | "file" | "symlink";

export interface Entry {
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  size: number;
}

/** Relative path ("a/b") -> entry, for everything below the root. */
export type Inventory = Map<string, Entry>;

/** Bounds for hostile images: far beyond real data sets, far below a hang. */
const MAX_ENTRIES = 5_000_000;
const MAX_PATH = 4096;

/**
 * mkfs/debugfs messages quote file names. On the node those must not reach the
 * Slurm log, so callers there pass revealNames: false and get the bare failure.
 */
function hideNames(err: unknown, revealNames: boolean, what: string): never {
  if (revealNames || !(err instanceof SealbatchError)) throw err;
  throw new SealbatchError(err.kind, `${what} (details withheld: they may name private files)`, {
    cause: err,
  });
}

export interface MakeExt4Options {
  source: string;
  image: string;
  bytes: number;
  inodes: number;
  revealNames: boolean;
}

/** Create `image` of `bytes` and fill it from `source`. Throws "too small" distinctly. */
export async function makeExt4(jobs: Jobs, o: MakeExt4Options): Promise<void> {
  const file = await Deno.open(o.image, { createNew: true, write: true, mode: 0o600 });
  try {
    await file.truncate(o.bytes);
  } finally {
    file.close();
  }
  try {
    await jobs.run("mkfs.ext4", [
      "-q",
      "-F",
      "-b",
      "4096",
      "-m",
      "0",
      "-N",
      String(o.inodes),
      "-d",
      o.source,
      "-E",
      `root_owner=${Deno.uid() ?? 0}:${Deno.gid() ?? 0}`,
      o.image,
    ], { what: "cannot build the file system" });
  } catch (err) {
    if (err instanceof SealbatchError && /Could not allocate/i.test(err.message)) {
      throw new TooSmall();
    }
    hideNames(err, o.revealNames, "cannot build the file system");
  }
}

/** The file system size was too small for the content. */
export class TooSmall extends Error {
  constructor() {
    super("the content does not fit into the file system");
  }
}

const HEADER_RE = /^debugfs: ls -p <(\d+)>$/;
const ENTRY_RE = /^\/(\d+)\/([0-7]{6})\/\d+\/\d+\/(.*)\/(\d*)\/$/;

function typeOf(mode: number): EntryType | undefined {
  switch (mode & 0o170000) {
    case 0o040000:
      return "dir";
    case 0o100000:
      return "file";
    case 0o120000:
      return "symlink";
    default:
      return undefined;
  }
}

function unsafe(why: string): SealbatchError {
  return inputError(`cannot open the container: its file system is unsafe to extract (${why})`);
}

/**
 * List the whole tree with `debugfs ls -p`, one debugfs run per directory
 * level, addressing directories by inode number so no name is ever parsed by
 * debugfs' command line.
 */
export async function listExt4(jobs: Jobs, image: string): Promise<Inventory> {
  const inventory: Inventory = new Map();
  const seenDirs = new Set<number>([2]);
  let level: { ino: number; rel: string }[] = [{ ino: 2, rel: "" }];
  while (level.length > 0) {
    const script = level.map((d) => `ls -p <${d.ino}>\n`).join("");
    const res = await jobs.run("debugfs", ["-f", "-", image], {
      stdin: script,
      what: "cannot list the file system",
    }).catch((err) => hideNames(err, false, "cannot list the file system"));
    // debugfs reports unreadable directories on stderr and carries on: treat any message as fatal.
    if (res.stderr.split("\n").some((l) => l.trim() !== "" && !/^debugfs \d/.test(l))) {
      throw unsafe("damaged directories");
    }
    const next: { ino: number; rel: string }[] = [];
    let index = -1;
    let current: { ino: number; rel: string } | undefined;
    let dots = 0;
    for (const line of res.text.split("\n")) {
      if (line === "") continue;
      const header = HEADER_RE.exec(line);
      if (header) {
        index++;
        current = level[index];
        if (current === undefined || current.ino !== Number(header[1])) {
          throw unsafe("unexpected listing");
        }
        dots = 0;
        continue;
      }
      const m = ENTRY_RE.exec(line);
      if (!m || current === undefined) throw unsafe("a name debugfs cannot list unambiguously");
      const [, ino, modeText, name, size] = m as unknown as [
        string,
        string,
        string,
        string,
        string,
      ];
      if (ino === "0") continue; // an unused slot (lost+found keeps some)
      if (name === "." || name === "..") {
        if (++dots > 2) throw unsafe("extra directory links");
        continue;
      }
      if (name === "" || name.includes("/") || name.includes("\0")) {
        throw unsafe("an invalid file name");
      }
      const rel = current.rel === "" ? name : `${current.rel}/${name}`;
      if (rel.length > MAX_PATH) throw unsafe("a path longer than 4096 bytes");
      if (inventory.has(rel)) throw unsafe("a duplicate name");
      const mode = parseInt(modeText, 8);
      const type = typeOf(mode);
      if (type === undefined) {
        throw inputError(
          "cannot open the container: it holds a special file (device, fifo or socket); sealbatch extracts only files, directories and symlinks",
        );
      }
      inventory.set(rel, { type, mode: mode & 0o7777, size: Number(size || 0) });
      if (inventory.size > MAX_ENTRIES) throw unsafe(`more than ${MAX_ENTRIES} entries`);
      if (type === "dir") {
        const dirIno = Number(ino);
        if (seenDirs.has(dirIno)) throw unsafe("a directory cycle");
        seenDirs.add(dirIno);
        next.push({ ino: dirIno, rel });
      }
    }
    if (index !== level.length - 1) throw unsafe("a directory debugfs cannot read");
    level = next;
  }
  return inventory;
}

/** Dump the whole tree into the existing directory `out` (the root's contents land in it). */
export async function dumpExt4(jobs: Jobs, image: string, out: string): Promise<void> {
  // cwd + "." keeps the output path out of debugfs' own command parsing; the
  // image path must then not be relative.
  await jobs.run("debugfs", ["-R", "rdump / .", resolve(image)], {
    cwd: out,
    what: "cannot extract the file system",
  }).catch((err) => hideNames(err, false, "cannot extract the file system"));
}

/**
 * Bytes the ext4 file system at the start of `image` spans, from its
 * superblock; throws when there is no ext4 there.
 */
export async function ext4Bytes(image: string): Promise<number> {
  const sb = new Uint8Array(1024);
  const file = await Deno.open(image, { read: true });
  try {
    await file.seek(1024, Deno.SeekMode.Start);
    let got = 0;
    while (got < sb.length) {
      const n = await file.read(sb.subarray(got));
      if (n === null) break;
      got += n;
    }
  } finally {
    file.close();
  }
  const view = new DataView(sb.buffer);
  if (view.getUint16(0x38, true) !== 0xef53) {
    throw inputError("cannot open the container: it does not hold an ext4 file system");
  }
  const logBlock = view.getUint32(0x18, true);
  if (logBlock > 6) throw inputError("cannot open the container: its ext4 superblock is damaged");
  const is64 = (view.getUint32(0x60, true) & 0x80) !== 0;
  const blocks = view.getUint32(0x04, true) + (is64 ? view.getUint32(0x150, true) * 2 ** 32 : 0);
  return blocks * (1024 << logBlock);
}
