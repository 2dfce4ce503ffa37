/**
 * Data containers on the compute node, used by the decrypted job script.
 *
 * Privileged (root with device-mapper): `cryptsetup open` + `mount -o
 * nodev,nosuid,noexec`, as the reference site does; results are written into
 * the container itself. Rootless (everywhere else): the container is extracted
 * into a private memory-backed directory, the mount point becomes a symlink to
 * it, and `close` seals the directory into a new LUKS2 container with the same
 * key next to the input. Nothing here prints file names or contents of the
 * decrypted data: the Slurm log lands on the shared file system.
 *
 * An output container need not travel from the client: `create` starts with
 * none (rootless: an empty private directory; privileged: a new container of
 * the requested size, made here under the job's key).
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";
import { exists, sha256Hex } from "../util/files.ts";
import { makePrivateDir, wipeTree } from "../util/secret_file.ts";
import { closeMapping, hasDeviceMapper, mappingActive, openMapping } from "../luks/cryptsetup.ts";
import { Jobs } from "../luks/jobs.ts";
import { checkKey, openContainer, usableHeader } from "../luks/open.ts";
import { dirOf, loadKey, sealDirectory } from "../luks/seal.ts";
import { MIN_OUTPUT_BYTES } from "../luks/size.ts";
import { isFreeTarget } from "../luks/tree.ts";

export type DataMode = "privileged" | "rootless";

export interface NodeOpenOptions {
  image: string;
  keyPath: string;
  mountPoint: string;
  mode: DataMode | "auto";
  /** Root for private directories (node config work_dir); default memory-backed. */
  workBase?: string;
  /**
   * Start empty instead of opening an existing container at `image` (which
   * must not exist). The size binds only a privileged container; rootless
   * data is bounded by the work storage.
   */
  create?: { size: "auto" | number };
}

export interface NodeCloseOptions {
  mountPoint: string;
  /** Key for the results container (default: the key given at open). */
  keyPath?: string;
  /**
   * Results container. Rootless: sealed there (default NAME.results.img next
   * to the input). Privileged: the closed container is renamed to it.
   */
  sealTo?: string;
  /** Rootless: wipe the data without sealing it. */
  discard: boolean;
  workBase?: string;
}

export interface NodeCloseResult {
  mode: DataMode;
  /** The container that now holds the directory's final state (none with discard). */
  results: string | undefined;
}

interface RootlessState {
  v: 1;
  image: string;
  keyPath: string;
  mountPoint: string;
  wasDir: boolean;
  /** Opened with `create`: there is no container at `image` to check the key against. */
  created?: true;
}

const STATE = "state.json";
const MOUNT_OPTIONS = "nodev,nosuid,noexec";

function absolute(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return abs.replace(/\/+$/, "") || "/";
}

/** Mapping names follow from the mount point, so close needs no state. */
async function mappingName(mountPoint: string): Promise<string> {
  return `sealbatch-${(await sha256Hex(absolute(mountPoint))).slice(0, 16)}`;
}

/** The default results name: NAME.results.img next to NAME.img. */
export function resultsPath(image: string): string {
  return image.replace(/(\.img)?$/, ".results.img");
}

async function resolveMode(mode: DataMode | "auto"): Promise<DataMode> {
  if (mode === "rootless") return mode;
  const dm = await hasDeviceMapper();
  if (mode === "privileged" && !dm) {
    throw new SealbatchError(
      "permission",
      "cannot open the container privileged: needs root and a kernel with device-mapper",
      { hint: "use --mode rootless (extracts into private memory-backed storage)" },
    );
  }
  return mode === "auto" ? (dm ? "privileged" : "rootless") : mode;
}

/** Errors from the node never carry system details, which may name private files. */
function withheld(err: unknown, what: string): never {
  if (err instanceof SealbatchError) throw err;
  // The cause is never printed; it only tells the failure's class (src/job/progress.ts).
  throw new SealbatchError(
    "tool",
    `${what}: ${(err as Error).name ?? "error"} (details withheld)`,
    {
      cause: err,
    },
  );
}

/** A new, empty container at `image` under the key at `keyPath` (privileged create). */
async function createContainer(
  image: string,
  keyPath: string,
  size: "auto" | number,
  workBase: string | undefined,
): Promise<void> {
  const empty = await makePrivateDir(
    "sealbatch-empty",
    workBase ? { base: workBase } : { fallback: true },
  );
  try {
    await sealDirectory({
      source: empty.path,
      out: image,
      key: { path: keyPath, create: false },
      // The job writes into this container: without a size, room for small outputs.
      size: size === "auto" ? MIN_OUTPUT_BYTES : size,
      headroom: { mib: 0 },
      revealNames: false,
      ...(workBase ? { workBase } : {}),
    });
  } catch (err) {
    withheld(err, "cannot create the container");
  } finally {
    await empty.remove();
  }
}

export async function nodeDataOpen(o: NodeOpenOptions): Promise<{ mode: DataMode }> {
  const mode = await resolveMode(o.mode);
  const mountPoint = absolute(o.mountPoint);
  if (!(await isFreeTarget(mountPoint))) {
    throw inputError(
      `cannot use mount point ${q(mountPoint)}: it exists and is not an empty directory`,
    );
  }
  if (o.create && (await exists(o.image))) {
    throw inputError(`cannot create the container ${q(o.image)}: it exists`);
  }
  if (mode === "privileged") {
    if (o.create) await createContainer(o.image, o.keyPath, o.create.size, o.workBase);
    await usableHeader(o.image);
    const key = await loadKey(o.keyPath);
    const name = await mappingName(mountPoint);
    await using jobs = new Jobs();
    await openMapping(jobs, o.image, name, key);
    try {
      await Deno.mkdir(mountPoint, { recursive: true, mode: 0o700 });
      await jobs.run("mount", ["-o", MOUNT_OPTIONS, `/dev/mapper/${name}`, mountPoint], {
        what: `cannot mount the container on ${q(mountPoint)}`,
      });
    } catch (err) {
      await closeMapping(jobs, name).catch(() => {});
      throw err;
    }
    return { mode };
  }

  const wasDir = await exists(mountPoint);
  const priv = await makePrivateDir("sealbatch-data", o.workBase ? { base: o.workBase } : {});
  try {
    if (o.create) {
      await loadKey(o.keyPath); // the results are sealed with it: refused now, not after the job
      await Deno.mkdir(`${priv.path}/data`, { mode: 0o700 });
    } else {
      await openContainer({
        image: o.image,
        keyPath: o.keyPath,
        out: `${priv.path}/data`,
        force: false,
        revealNames: false,
        ...(o.workBase ? { workBase: o.workBase } : {}),
      });
    }
    const state: RootlessState = {
      v: 1,
      image: absolute(o.image),
      keyPath: absolute(o.keyPath),
      mountPoint,
      wasDir,
      ...(o.create ? { created: true as const } : {}),
    };
    await Deno.writeTextFile(`${priv.path}/${STATE}`, JSON.stringify(state), { mode: 0o600 });
    if (wasDir) await Deno.remove(mountPoint);
    await Deno.symlink(`${priv.path}/data`, mountPoint);
    return { mode };
  } catch (err) {
    await priv.remove();
    withheld(err, "cannot open the container");
  }
}

/** The private directory behind a rootless mount point, after checking it is ours. */
async function rootlessState(mountPoint: string): Promise<{ dir: string; state: RootlessState }> {
  const target = await Deno.readLink(mountPoint);
  const dir = dirOf(target);
  const info = await Deno.lstat(dir);
  if (
    !target.endsWith("/data") || !info.isDirectory || info.uid !== Deno.uid() ||
    ((info.mode ?? 0) & 0o777) !== 0o700
  ) {
    throw inputError(
      `cannot close ${q(mountPoint)}: it was not opened by sealbatch node data open`,
    );
  }
  let state: RootlessState;
  try {
    state = JSON.parse(await Deno.readTextFile(`${dir}/${STATE}`));
  } catch {
    throw inputError(`cannot close ${q(mountPoint)}: its state file is missing or unreadable`);
  }
  if (state.v !== 1 || state.mountPoint !== mountPoint) {
    throw inputError(`cannot close ${q(mountPoint)}: its state does not match`);
  }
  return { dir, state };
}

/** The container file behind an active mapping (cryptsetup status: "loop: FILE"). */
async function mappedImage(jobs: Jobs, name: string, sealTo: string): Promise<string> {
  const res = await jobs.run("cryptsetup", ["status", name], {
    what: "cannot inspect the mapping",
  });
  const image = /^\s*loop:\s+(\/.*\S)\s*$/m.exec(res.text)?.[1];
  if (image === undefined) {
    throw inputError(`cannot rename the container to ${q(sealTo)}: it is not backed by a file`);
  }
  if (await exists(sealTo)) {
    throw inputError(`cannot rename the container to ${q(sealTo)}: it exists`);
  }
  return image;
}

export async function nodeDataClose(o: NodeCloseOptions): Promise<NodeCloseResult> {
  const mountPoint = absolute(o.mountPoint);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(mountPoint);
  } catch {
    throw inputError(`cannot close ${q(mountPoint)}: no such mount point`);
  }

  if (!info.isSymlink) {
    // Privileged: the results are already in the container; unmount and unmap.
    const name = await mappingName(mountPoint);
    await using jobs = new Jobs();
    if (!(await mappingActive(jobs, name))) {
      throw inputError(`cannot close ${q(mountPoint)}: nothing sealbatch opened is there`);
    }
    const image = o.sealTo === undefined ? undefined : await mappedImage(jobs, name, o.sealTo);
    await jobs.run("umount", [mountPoint], { what: `cannot unmount ${q(mountPoint)}` });
    await closeMapping(jobs, name);
    if (image === undefined || o.sealTo === undefined) {
      return { mode: "privileged", results: undefined };
    }
    // The container holds the results; under the results name the job's
    // output looks the same to the client in both modes.
    await Deno.rename(image, o.sealTo);
    return { mode: "privileged", results: o.sealTo };
  }

  const { dir, state } = await rootlessState(mountPoint);
  let results: string | undefined;
  if (!o.discard) {
    results = o.sealTo ?? resultsPath(state.image);
    const keyPath = o.keyPath ?? state.keyPath;
    try {
      // The results must open with the key the container opened with.
      const key = await loadKey(keyPath);
      if (!state.created) {
        const header = await usableHeader(state.image);
        await using jobs = new Jobs();
        await checkKey(jobs, state.image, header, key);
      }
      await sealDirectory({
        source: `${dir}/data`,
        out: results,
        key: { path: keyPath, create: false },
        // The results are only read from now on: no room for more (it would be
        // downloaded as ciphertext).
        size: "auto",
        headroom: { mib: 0 },
        revealNames: false,
        ...(o.workBase ? { workBase: o.workBase } : {}),
      });
    } catch (err) {
      withheld(err, "cannot seal the results");
    }
  }
  await wipeTree(dir);
  await Deno.remove(mountPoint);
  if (state.wasDir) await Deno.mkdir(mountPoint, { mode: 0o700 });
  return { mode: "rootless", results };
}
