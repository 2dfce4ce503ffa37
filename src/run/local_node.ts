/**
 * A node on this machine for the local executor: a fresh node key, the job
 * user's public key registered in a signers directory, a state directory for
 * nonces, a 0700 work root and a node config that points at them. The same
 * files an admin sets up on a real secure node (docs/admin.md), in one
 * directory that stands in for the node's local disk; only the work root
 * (where the job's keys and plaintext live) is on memory-backed storage, as
 * the node side demands.
 */
import { writeKeyPair } from "../pgp/keygen.ts";
import { fsTypeOf } from "../node/fetch_keys.ts";
import { onCleanup } from "../util/cleanup.ts";
import { SealbatchError } from "../util/errors.ts";
import { writeFileAtomic } from "../util/files.ts";
import { wipeTree } from "../util/secret_file.ts";

export interface LocalNodeInput {
  /** Created 0700; must not hold a node already. */
  dir: string;
  /** The job account whose key the node trusts. */
  user: string;
  /** Armored public key of that user. */
  userPublicKey: string;
  /** Vault address the node's `fetch-keys` uses. */
  vaultAddr?: string;
  /** Memory-backed directory for the node's work directory (default: memoryRoot()). */
  memoryRoot?: string;
}

export interface LocalNode {
  /** The node config (YAML), for SEALBATCH_NODE_CONFIG. */
  config: string;
  /** The node's public key: jobs are encrypted to it. */
  publicKey: string;
  fingerprint: string;
  /** The node's work root on memory-backed storage; `remove()` wipes it. */
  workDir: string;
  remove(): Promise<void>;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A memory-backed directory this user may write: $XDG_RUNTIME_DIR, then
 * /run/user/UID. (/dev/shm is closed to sealbatch's Deno permissions.)
 */
export async function memoryRoot(): Promise<string> {
  const candidates = [env("XDG_RUNTIME_DIR"), `/run/user/${Deno.uid()}`];
  for (const dir of candidates) {
    if (dir === undefined || !(await Deno.stat(dir).catch(() => undefined))?.isDirectory) continue;
    const type = await fsTypeOf(dir).catch(() => "unknown");
    if (type === "tmpfs" || type === "ramfs") return dir;
  }
  const uid = Deno.uid();
  // Not a program that is missing or failed: a directory this machine does not offer.
  throw new SealbatchError(
    "input",
    "cannot start the local node: no memory-backed directory for the job's keys " +
      "($XDG_RUNTIME_DIR or /run/user/UID on tmpfs)",
    {
      hint: "log in through a session that provides $XDG_RUNTIME_DIR, or point it at a tmpfs " +
        `you own (as root: mkdir -p /run/user/${uid} && mount -t tmpfs -o mode=700 tmpfs ` +
        `/run/user/${uid})`,
    },
  );
}

export async function prepareLocalNode(input: LocalNodeInput): Promise<LocalNode> {
  const dir = input.dir.replace(/\/+$/, "");
  const memory = input.memoryRoot ?? await memoryRoot();
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  const key = await writeKeyPair({
    kind: "node",
    name: "node",
    email: "root@node.localhost",
    outDir: dir,
  });
  await Deno.mkdir(`${dir}/signers`, { mode: 0o755 });
  await Deno.copyFile(input.userPublicKey, `${dir}/signers/${input.user}.asc`);
  await Deno.mkdir(`${dir}/state`, { mode: 0o700 });
  const workDir = await Deno.makeTempDir({ dir: memory, prefix: "sealbatch-local-node-" });
  // Also on Ctrl-C: the node's own private directories inside are wiped by the node side.
  const remove = onCleanup(() => wipeTree(workDir));
  const config = `${dir}/node.yaml`;
  try {
    await Deno.chmod(workDir, 0o700);
    // Relative paths: the node config resolves them against its own directory.
    const lines = [
      "# node config of the sealbatch local executor",
      "node_key: node.sec.asc",
      "signers_dir: signers",
      "state_dir: state",
      `work_dir: ${JSON.stringify(workDir)}`,
      ...(input.vaultAddr ? [`vault_addr: ${JSON.stringify(input.vaultAddr)}`] : []),
    ];
    await writeFileAtomic(config, lines.join("\n") + "\n", { mode: 0o600 });
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    config,
    publicKey: key.publicKey,
    fingerprint: key.fingerprint,
    workDir,
    remove,
  };
}
