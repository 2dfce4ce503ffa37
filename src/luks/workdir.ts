/**
 * Where plaintext intermediates live: a 0700 directory on memory-backed
 * storage ($XDG_RUNTIME_DIR, /run/user/UID) when it has room, otherwise a 0700
 * directory next to the command's output on the machine's own disk. Either way
 * it is wiped in `finally` and on Ctrl-C (makePrivateDir registers that).
 */
import { resolve } from "node:path";
import { exec } from "../util/exec.ts";
import { makePrivateDir } from "../util/secret_file.ts";
import type { PrivateDir } from "../util/secret_file.ts";

export interface WorkDir extends PrivateDir {
  /** True when no memory-backed storage had room and the disk next to the output is used. */
  nearOutput: boolean;
}

export async function availableBytes(path: string): Promise<number> {
  try {
    const res = await exec("df", ["-P", "-B1", path], { what: "cannot measure free space" });
    const fields = res.text.trim().split("\n").at(-1)?.trim().split(/\s+/) ?? [];
    const avail = Number(fields[3]);
    return Number.isFinite(avail) ? avail : 0;
  } catch {
    return 0;
  }
}

/**
 * A private work directory with room for `needBytes`. `base` (the node's
 * work_dir, or --work-dir) is used as given; `near` is the directory of the
 * output, used when memory-backed storage is too small. The path returned is
 * absolute: tools run with another working directory (cryptsetup, debugfs)
 * get paths inside it.
 */
export async function workDir(
  prefix: string,
  needBytes: number,
  near: string,
  base?: string,
): Promise<WorkDir> {
  if (base !== undefined) {
    return { ...(await makePrivateDir(prefix, { base: resolve(base) })), nearOutput: false };
  }
  try {
    const mem = await makePrivateDir(prefix);
    if ((await availableBytes(mem.path)) >= needBytes) return { ...mem, nearOutput: false };
    await mem.remove();
  } catch {
    // no memory-backed storage: fall through to the disk
  }
  return { ...(await makePrivateDir(`.${prefix}`, { base: resolve(near) })), nearOutput: true };
}
