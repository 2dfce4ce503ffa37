/**
 * Node side of key delivery: the decrypted job script hands over its
 * credentials and gets its keys, once. Every wrapping token is looked up
 * first (which does not consume it) and must show exactly the expected
 * creation path; only then are they unwrapped. A token that is already used
 * or unknown means someone else got there first: the job stops with the
 * interception exit code. Keys land 0600 in a 0700 directory on node-local,
 * memory-backed storage, and are wiped again if anything fails.
 */
import { inputError, q, refusal, SealbatchError } from "../util/errors.ts";
import {
  makePrivateDir,
  readSecretFile,
  wipeFile,
  wipeTree,
  writeSecretFile,
} from "../util/secret_file.ts";
import type { PrivateDir } from "../util/secret_file.ts";
import { onCleanup } from "../util/cleanup.ts";
import { exec } from "../util/exec.ts";
import { exists } from "../util/files.ts";
import {
  decodeKey,
  expectedCreationPath,
  keysForNode,
  parseCredentials,
} from "../kms/credentials.ts";
import type { CredentialKey, Credentials } from "../kms/credentials.ts";
import { kvData, tokenAuth, VaultClient, VaultError, vaultSettings } from "../kms/vault_client.ts";

/** File systems that keep data in memory on this node. */
const MEMORY_FS = new Set(["tmpfs", "ramfs"]);

export interface FetchKeysRequest {
  credentialsPath: string;
  /** Target directory (created 0700 if missing); default: a new private directory. */
  outDir?: string;
  /** Only these keys (default: all in the credentials). */
  only?: string[];
  vaultAddr?: string;
  caCert?: string;
  /** Root for the default key directory (the node config's work_dir, a tmpfs). */
  workBase?: string;
  /** Per-request timeout for Vault calls. */
  timeoutMs?: number;
  /** This node's index in the job's allocation (SLURM_NODEID): a multi-node job's credentials are per node. */
  node?: number;
}

export interface FetchedKey {
  name: string;
  path: string;
  bytes: number;
}

export interface FetchKeysResult {
  job: string;
  dir: string;
  keys: FetchedKey[];
}

function intercepted(creds: Credentials, key: CredentialKey): SealbatchError {
  return new SealbatchError(
    "intercepted",
    `credential for key ${q(key.name)}${
      key.node === undefined ? "" : ` of node ${key.node}`
    } of job ${q(creds.job)} was already used or does not exist: ` +
      "it was used by someone else (possible interception); the job stops",
    {
      hint:
        `tell ${creds.user}: run \`sealbatch keys status --job ${creds.job}\` and \`sealbatch keys revoke --job ${creds.job}\``,
    },
  );
}

/**
 * The file system type holding `path`, as `stat -f` reports it ("tmpfs",
 * "nfs", "ext2/ext3", ...). /proc and /dev are closed to sealbatch's Deno
 * permissions, so the kernel is asked through stat(1).
 */
export async function fsTypeOf(path: string): Promise<string> {
  const r = await exec("stat", ["-f", "-c", "%T", path], {
    what: `checking the file system of ${q(path)}`,
  });
  return r.text.trim() || "unknown";
}

async function requireMemoryBacked(dir: string, created: boolean): Promise<void> {
  const type = await fsTypeOf(dir);
  if (MEMORY_FS.has(type)) return;
  if (created) await Deno.remove(dir, { recursive: true }).catch(() => {});
  throw refusal(
    `refusing key directory ${q(dir)}: it is on a ${type} file system, not node-local memory`,
    {
      hint: "use a directory on tmpfs, e.g. under $XDG_RUNTIME_DIR (or omit --out)",
    },
  );
}

/** Make (or accept) `dir` as the key directory: memory-backed, a real directory, 0700. */
async function prepareOutDir(dir: string): Promise<{ path: string; created: boolean }> {
  let created = false;
  try {
    await Deno.mkdir(dir, { mode: 0o700 });
    created = true;
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) {
      throw inputError(`cannot create key directory ${q(dir)}: ${(err as Error).message}`);
    }
  }
  const info = await Deno.lstat(dir);
  if (!info.isDirectory) throw inputError(`cannot use key directory ${q(dir)}: not a directory`);
  if (((info.mode ?? 0) & 0o077) !== 0) {
    throw inputError(`refusing key directory ${q(dir)}: accessible by group or others`, {
      hint: `chmod 700 ${dir}`,
    });
  }
  await requireMemoryBacked(dir, created);
  return { path: dir, created };
}

async function readCredentials(path: string): Promise<Credentials> {
  const bytes = await readSecretFile(path, { label: "credentials file", maxBytes: 256 * 1024 });
  return parseCredentials(new TextDecoder().decode(bytes), path);
}

/** Look up every credential (no use consumed) and check where it was created. */
async function validateAll(
  vault: VaultClient,
  creds: Credentials,
  keys: CredentialKey[],
): Promise<void> {
  for (const key of keys) {
    const info = await vault.wrapLookup(key.token);
    if (!info) throw intercepted(creds, key);
    const expected = expectedCreationPath(creds.mode, key);
    if (info.creation_path !== expected) {
      throw refusal(
        `credential for key ${q(key.name)} was created for ${q(info.creation_path)}, not ${
          q(expected)
        }: ` +
          "possible substitution; the job stops",
        { hint: `tell ${creds.user}; nothing was unwrapped` },
      );
    }
  }
}

/** Unwrap one credential into the key bytes. */
async function unwrapKey(
  vault: VaultClient,
  creds: Credentials,
  key: CredentialKey,
): Promise<Uint8Array> {
  let body: Record<string, unknown>;
  try {
    body = await vault.unwrap(key.token);
  } catch (err) {
    // Valid a moment ago, gone now: someone raced us to it.
    if (err instanceof VaultError && err.invalidWrappingToken) throw intercepted(creds, key);
    throw err;
  }
  const what = `cannot use key ${q(key.name)}`;
  if (creds.mode === "job-scoped") return decodeKey(kvData(body), what);
  const inner = vault.withToken(tokenAuth(body, "unwrap credential").client_token);
  try {
    const res = await inner.request("GET", key.path, { what: `read secret at ${q(key.path)}` });
    return decodeKey(kvData(res.body), what);
  } finally {
    // Its remaining use is not needed by anybody.
    await inner.revokeSelf().catch(() => {});
  }
}

/**
 * The network half of fetch-keys: check every credential, then unwrap each
 * into its key bytes (in memory; the caller decides where they go).
 */
export async function unwrapCredentials(
  vault: VaultClient,
  creds: Credentials,
  keys: CredentialKey[] = creds.keys,
): Promise<{ name: string; bytes: Uint8Array }[]> {
  await validateAll(vault, creds, keys);
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (const key of keys) out.push({ name: key.name, bytes: await unwrapKey(vault, creds, key) });
  return out;
}

export async function fetchKeys(req: FetchKeysRequest): Promise<FetchKeysResult> {
  const creds = await readCredentials(req.credentialsPath);
  const own = keysForNode(creds, req.node);
  const wanted = req.only && req.only.length > 0 ? req.only : own.map((k) => k.name);
  const unknown = wanted.filter((n) => !own.some((k) => k.name === n));
  if (unknown.length > 0) {
    throw inputError(
      `unknown key name ${q(unknown[0])} in the credentials of job ${q(creds.job)}`,
      {
        hint: `known keys: ${creds.keys.map((k) => k.name).join(", ")}`,
      },
    );
  }
  const keys = own.filter((k) => wanted.includes(k.name));
  if (Date.now() >= Date.parse(creds.expires_at)) {
    throw new SealbatchError(
      "kms",
      `the credentials of job ${q(creds.job)} expired at ${creds.expires_at}`,
      {
        hint:
          "the job waited longer than the wrap TTL; escrow the keys again with a longer --wrap-ttl",
      },
    );
  }
  const settings = vaultSettings({
    addr: req.vaultAddr ?? envOr("VAULT_ADDR") ?? creds.vault_addr,
    ...(req.caCert ? { caCert: req.caCert } : {}),
    ...(creds.namespace ? { namespace: creds.namespace } : {}),
  });
  const vault = await VaultClient.connect({
    ...settings,
    ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
  });
  const files: string[] = [];
  let out: { path: string; created: boolean } | undefined;
  let priv: PrivateDir | undefined;
  const wipe = async () => {
    for (const f of files) await wipeFile(f);
    if (out?.created) await wipeTree(out.path);
    await priv?.remove();
  };
  let keep = false;
  const drop = onCleanup(() => keep ? undefined : wipe());
  try {
    // The key directory is checked before any credential is touched.
    if (req.outDir) out = await prepareOutDir(req.outDir);
    else {
      priv = await makePrivateDir("sealbatch-keys", req.workBase ? { base: req.workBase } : {});
      await requireMemoryBacked(priv.path, true);
    }
    const dir = out?.path ?? priv!.path;
    for (const key of keys) {
      if (await exists(`${dir}/${key.name}`)) {
        throw inputError(
          `cannot write key ${q(key.name)}: ${q(`${dir}/${key.name}`)} already exists`,
          {
            hint: "give an empty or new --out directory; nothing was unwrapped",
          },
        );
      }
    }
    const fetched: FetchedKey[] = [];
    for (const { name, bytes } of await unwrapCredentials(vault, creds, keys)) {
      const path = `${dir}/${name}`;
      await writeSecretFile(path, bytes);
      files.push(path);
      fetched.push({ name, path, bytes: bytes.length });
    }
    // The keys stay for the job; the job script removes them (wipe-keys) when it ends.
    keep = true;
    return { job: creds.job, dir, keys: fetched };
  } finally {
    await drop();
    vault.close();
  }
}

function envOr(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remove a key directory made by fetch-keys: only a 0700 directory holding
 * nothing but 0600 regular files is wiped, so a wrong argument cannot erase
 * anything else.
 */
export async function wipeKeys(dir: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw inputError(`cannot wipe key directory ${q(dir)}: ${(err as Error).message}`);
  }
  if (!info.isDirectory || ((info.mode ?? 0) & 0o077) !== 0) {
    throw refusal(`refusing to wipe ${q(dir)}: not a private (0700) key directory`);
  }
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    const st = await Deno.lstat(`${dir}/${entry.name}`);
    if (!st.isFile || ((st.mode ?? 0) & 0o077) !== 0) {
      throw refusal(
        `refusing to wipe ${q(dir)}: ${q(entry.name)} is not a key file written by fetch-keys`,
      );
    }
    count++;
  }
  await wipeTree(dir);
  return count;
}
