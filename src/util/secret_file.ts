/**
 * Key files and private work directories. Secret files are created
 * exclusively (O_EXCL) with mode 0600; private directories are 0700 and live
 * on node-local, memory-backed storage when the machine has it.
 */
import { inputError, q, SealbatchError } from "./errors.ts";
import { onCleanup } from "./cleanup.ts";
import { readFileCapped } from "./files.ts";

/** Create `path` exclusively with mode 0600 and write `data`. Never overwrites. */
export async function writeSecretFile(path: string, data: Uint8Array | string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw inputError(`cannot create key file ${q(path)}: it already exists`, {
        hint: "sealbatch never overwrites a key file; move it away or choose another path",
      });
    }
    throw inputError(`cannot create key file ${q(path)}: ${(err as Error).message}`);
  }
  try {
    // umask can only narrow the mode; chmod makes 0600 exact even under umask 0.
    await Deno.chmod(path, 0o600);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
  } catch (err) {
    file.close();
    await Deno.remove(path).catch(() => {});
    throw inputError(`cannot write key file ${q(path)}: ${(err as Error).message}`);
  }
  file.close();
}

export interface ReadSecretOptions {
  /** Refuse files larger than this (hostile input must not cause huge reads). */
  maxBytes?: number;
  /** What the file is, for messages ("LUKS key", "node key"). */
  label?: string;
}

/**
 * Read a key file after checking that it is a regular file readable by its
 * owner only; group/world-readable keys are refused with a hint. The checks
 * apply to the opened file, so a path swapped after them gains nothing.
 */
export async function readSecretFile(
  path: string,
  opts: ReadSecretOptions = {},
): Promise<Uint8Array> {
  const label = opts.label ?? "key file";
  return await readFileCapped(
    path,
    opts.maxBytes ?? 1024 * 1024,
    `cannot read ${label} ${q(path)}`,
    (info) => {
      const mode = info.mode ?? 0;
      if ((mode & 0o077) !== 0) {
        throw new SealbatchError(
          "input",
          `refusing ${label} ${q(path)}: readable by group or others (mode ${
            (mode & 0o777).toString(8)
          })`,
          { hint: `chmod 600 ${q(path)}` },
        );
      }
    },
  );
}

/**
 * Node-local, memory-backed directories, best first. /dev/shm is not among
 * them: Deno refuses every file operation below /dev (also through the
 * /run/shm symlink) unless given --allow-all (denoland/deno#30979), which
 * sealbatch never is. Sites point `work_dir` at a tmpfs of their own instead.
 */
function privateRoots(): string[] {
  const roots: string[] = [];
  try {
    const runtime = Deno.env.get("XDG_RUNTIME_DIR");
    if (runtime) roots.push(runtime);
  } catch {
    // not granted
  }
  const uid = Deno.uid();
  if (uid !== null) roots.push(`/run/user/${uid}`);
  return roots;
}

export interface PrivateDir {
  path: string;
  /** True when the directory is on memory-backed storage. */
  memoryBacked: boolean;
  /** Overwrite regular files, then remove the tree. Idempotent. */
  remove(): Promise<void>;
}

/** Overwrite every regular file below `dir` with zeros, then remove the tree. */
export async function wipeTree(dir: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await wipeTree(path);
      else if (entry.isFile) await wipeFile(path);
    }
    await Deno.remove(dir, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** Overwrite a file with zeros before unlinking; on tmpfs this clears the pages. */
export async function wipeFile(path: string): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    if (info.isFile && info.size > 0) {
      const file = await Deno.open(path, { write: true });
      const zeros = new Uint8Array(Math.min(info.size, 1 << 20));
      let left = info.size;
      while (left > 0) {
        const n = await file.write(zeros.subarray(0, Math.min(left, zeros.length)));
        left -= n;
      }
      await file.syncData().catch(() => {});
      file.close();
    }
    await Deno.remove(path);
  } catch {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * A 0700 directory for plaintext and keys, removed on `remove()`, on process
 * interruption, and never on the shared file system unless `fallback` allows.
 */
export async function makePrivateDir(
  prefix: string,
  opts: { base?: string; fallback?: boolean; exactName?: boolean } = {},
): Promise<PrivateDir> {
  const candidates = opts.base ? [opts.base] : privateRoots();
  for (const root of candidates) {
    // exactName: a name other processes of the same job find (mkdir fails if it exists).
    if (opts.exactName) {
      const path = `${root}/${prefix}`;
      await Deno.mkdir(path, { mode: 0o700 });
      await Deno.chmod(path, 0o700);
      return register(path, opts.base === undefined);
    }
    try {
      const path = await Deno.makeTempDir({ dir: root, prefix: `${prefix}-` });
      await Deno.chmod(path, 0o700);
      // A configured base is the site's choice (documented to be a tmpfs).
      return register(path, opts.base === undefined);
    } catch {
      // try the next root
    }
  }
  if (opts.fallback) {
    const path = await Deno.makeTempDir({ prefix: `${prefix}-` });
    await Deno.chmod(path, 0o700);
    return register(path, false);
  }
  throw new SealbatchError(
    "tool",
    "cannot create a private work directory: no node-local memory-backed storage ($XDG_RUNTIME_DIR, /run/user/UID) is writable",
    {
      hint: "on a node, set work_dir in the node config to a node-local tmpfs (see docs/admin.md)",
    },
  );
}

function register(path: string, memoryBacked: boolean): PrivateDir {
  const remove = onCleanup(() => wipeTree(path));
  return { path, memoryBacked, remove };
}
