/**
 * The local node keeps job keys on memory-backed storage only. When this
 * machine offers none to the test user ($XDG_RUNTIME_DIR, /run/user/UID) and
 * the tests run as root, each test mounts a private tmpfs of its own: tests
 * run in parallel, so none may lean on another's mount or on the shared
 * process environment.
 */
import { memoryRoot } from "../../src/run/local_node.ts";
import { exec } from "../../src/util/exec.ts";

export interface MemoryDir extends AsyncDisposable {
  /** The memory-backed directory, for prepareLocalNode's memoryRoot. */
  root: string;
  /** Variables for a child process (empty when the machine provides a tmpfs). */
  env: Record<string, string>;
}

/** What the machine itself offers, read once before any test runs. */
const OFFERED = await memoryRoot().catch(() => undefined);

/** True when a test can get memory-backed storage (offered, or mountable as root). */
export const MEMORY_AVAILABLE = Deno.uid() === 0 || OFFERED !== undefined;

export async function memoryDir(): Promise<MemoryDir> {
  if (OFFERED !== undefined) {
    return { root: OFFERED, env: {}, [Symbol.asyncDispose]: async () => {} };
  }
  const dir = await Deno.makeTempDir({ prefix: "sealbatch-tmpfs-" });
  await exec("mount", ["-t", "tmpfs", "-o", "size=1g,mode=700", "sealbatch-test", dir]);
  return {
    root: dir,
    env: { XDG_RUNTIME_DIR: dir },
    async [Symbol.asyncDispose]() {
      // Busy (a child still inside it): detached now, freed when the last user goes.
      await exec("umount", [dir]).catch(() => exec("umount", ["--lazy", dir])).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
