/**
 * The credentials a job script carries to the node: per key, one single-use
 * wrapping token and the exact Vault path it must have been created for.
 * JSON, written by the job script into node-local private storage (0600) and
 * read by `sealbatch node fetch-keys`.
 *
 * A job of several nodes gets one credential per node and key, each marked
 * with the node's index in the allocation (`"node":I`, Slurm's SLURM_NODEID)
 * and wrapping a read of that node's own copy of the key
 * (`secret/data/sealbatch/U/J/nI/luks`): a node takes only its own, checks
 * that its token was created for its own path, and a credential spent by
 * another node (or twice) is the interception alarm on the node it was for.
 *
 *   {"v":1,"kind":"sealbatch-credentials","mode":"job-scoped","job":"J","user":"U",
 *    "vault_addr":"https://vault:8200","expires_at":"RFC3339",
 *    "keys":[{"name":"luks","path":"secret/data/sealbatch/U/J/luks","token":"hvs.…"}]}
 *
 * In job-scoped mode a token wraps a KV v2 read of `path`; in reference mode
 * it wraps a use-limited token (created at `auth/token/create`) that reads
 * `path` (field `key`), as the reference site's node scripts expect.
 */
import { inputError, q, refusal, usageError } from "../util/errors.ts";
import { NAME_RE } from "../util/user.ts";
import { checkAddr, checkToken } from "./vault_client.ts";

export type KeyMode = "job-scoped" | "reference";

export interface CredentialKey {
  name: string;
  /** API path of the secret, e.g. secret/data/sealbatch/alice/job1/luks. */
  path: string;
  /** The single-use wrapping token. */
  token: string;
  /** Multi-node jobs: the index (SLURM_NODEID) of the one node this credential is for. */
  node?: number;
}

export interface Credentials {
  v: 1;
  kind: "sealbatch-credentials";
  mode: KeyMode;
  job: string;
  user: string;
  vault_addr: string;
  namespace?: string;
  expires_at: string;
  keys: CredentialKey[];
}

const MAX_KEYS = 32;
/** Nodes of one job that can get credentials of their own. */
export const MAX_NODES = 64;
const PATH_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*\/data\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** The creation path a credential's wrapping token must show before it is unwrapped. */
export function expectedCreationPath(mode: KeyMode, key: CredentialKey): string {
  return mode === "reference" ? "auth/token/create" : key.path;
}

export function checkKeyName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw inputError(`invalid key name ${q(name)}`, {
      hint: "use letters, digits, '_', '.' and '-' (for example luks or image)",
    });
  }
  return name;
}

/** Parse and validate a credentials document (untrusted until checked). */
export function parseCredentials(text: string, source: string): Credentials {
  const bad = (why: string) =>
    inputError(`invalid credentials file ${q(source)}: ${why}`, {
      hint: "the file must be what `sealbatch keys escrow` wrote, unchanged",
    });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("not a JSON object");
  const d = doc as Record<string, unknown>;
  const allowed = [
    "v",
    "kind",
    "mode",
    "job",
    "user",
    "vault_addr",
    "namespace",
    "expires_at",
    "keys",
  ];
  const extra = Object.keys(d).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw bad(`unknown field ${q(extra)}`);
  if (d.v !== 1 || d.kind !== "sealbatch-credentials") {
    throw bad("not a version 1 sealbatch credentials document");
  }
  if (d.mode !== "job-scoped" && d.mode !== "reference") {
    throw bad("mode must be job-scoped or reference");
  }
  for (const field of ["job", "user"] as const) {
    if (typeof d[field] !== "string" || !NAME_RE.test(d[field] as string)) {
      throw bad(`invalid ${field}`);
    }
  }
  if (typeof d.vault_addr !== "string") throw bad("missing vault_addr");
  checkAddr(d.vault_addr);
  if (
    d.namespace !== undefined &&
    (typeof d.namespace !== "string" || !/^[A-Za-z0-9_/.-]{1,256}$/.test(d.namespace))
  ) {
    throw bad("invalid namespace");
  }
  if (typeof d.expires_at !== "string" || Number.isNaN(Date.parse(d.expires_at))) {
    throw bad("invalid expires_at");
  }
  if (!Array.isArray(d.keys) || d.keys.length === 0 || d.keys.length > MAX_KEYS) {
    throw bad(`keys must list 1-${MAX_KEYS} entries`);
  }
  const seen = new Set<string>();
  const keys: CredentialKey[] = d.keys.map((k: unknown, i: number) => {
    const e = (typeof k === "object" && k !== null ? k : {}) as Record<string, unknown>;
    if (Object.keys(e).some((f) => !["name", "path", "token", "node"].includes(f))) {
      throw bad(`keys[${i}] has unknown fields`);
    }
    if (typeof e.name !== "string" || !NAME_RE.test(e.name)) {
      throw bad(`keys[${i}] has an invalid name`);
    }
    if (
      e.node !== undefined &&
      (typeof e.node !== "number" || !Number.isInteger(e.node) || e.node < 0 ||
        e.node >= MAX_NODES)
    ) {
      throw bad(`keys[${i}] has an invalid node index`);
    }
    const id = e.node === undefined ? e.name : `${e.name}@${e.node}`;
    if (seen.has(id)) throw bad(`key name ${q(e.name)} appears twice`);
    seen.add(id);
    if (typeof e.path !== "string" || !PATH_RE.test(e.path) || e.path.split("/").includes("..")) {
      throw bad(`keys[${i}] has an invalid path`);
    }
    if (typeof e.token !== "string") throw bad(`keys[${i}] has no token`);
    checkToken(e.token, `wrapping token for key ${q(e.name)}`);
    if (e.node !== undefined && !e.path.endsWith(nodeKeySuffix(e.node, e.name))) {
      throw bad(`keys[${i}] is for node ${e.node} but its path is not that node's`);
    }
    return {
      name: e.name,
      path: e.path,
      token: e.token,
      ...(typeof e.node === "number" ? { node: e.node } : {}),
    };
  });
  const perNode = keys.filter((k) => k.node !== undefined).length;
  if (perNode !== 0 && perNode !== keys.length) {
    throw bad("either every key or none names a node");
  }
  return {
    v: 1,
    kind: "sealbatch-credentials",
    mode: d.mode,
    job: d.job as string,
    user: d.user as string,
    vault_addr: d.vault_addr,
    ...(typeof d.namespace === "string" ? { namespace: d.namespace } : {}),
    expires_at: d.expires_at,
    keys,
  };
}

/** The end of the KV path of node I's copy of a key: `/nI/NAME`. */
export function nodeKeySuffix(node: number, name: string): string {
  return `/n${node}/${name}`;
}

/** Nodes the credentials are for: 1 unless they name nodes, then the highest index + 1. */
export function credentialNodes(creds: Credentials): number {
  return Math.max(0, ...creds.keys.map((k) => k.node ?? 0)) + 1;
}

/**
 * The credentials of one node: all of a one-node job's (for node 0), or
 * those marked with this node's index. Nothing else is ever looked up.
 */
export function keysForNode(creds: Credentials, node: number | undefined): CredentialKey[] {
  if (!creds.keys.some((k) => k.node !== undefined)) {
    if (node === undefined || node === 0) return creds.keys;
    throw refusal(`the credentials of job ${q(creds.job)} are for one node, not for node ${node}`);
  }
  if (node === undefined) {
    throw usageError(`the credentials of job ${q(creds.job)} are per node; which node is this?`, {
      hint: "give --node-index I (default: $SLURM_NODEID, set by Slurm in every job step)",
    });
  }
  const own = creds.keys.filter((k) => k.node === node);
  if (own.length === 0) {
    throw refusal(
      `the credentials of job ${q(creds.job)} hold nothing for node ${node} ` +
        `(they are for ${credentialNodes(creds)} nodes)`,
    );
  }
  return own;
}

/**
 * How key bytes are stored in the KV field `key`: as text when they are
 * printable UTF-8 (PEM keys, passphrases: `vault kv get -field=key` prints
 * them as they are), else base64 with `encoding: "base64"`.
 */
export function encodeKey(bytes: Uint8Array): Record<string, string> {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // deno-lint-ignore no-control-regex
    if (!/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text)) return { key: text };
  } catch {
    // not UTF-8: fall through to base64
  }
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return { key: btoa(binary), encoding: "base64" };
}

export function decodeKey(data: Record<string, unknown>, what: string): Uint8Array {
  if (typeof data.key !== "string") throw inputError(`${what}: the secret has no field "key"`);
  if (data.encoding === undefined) return new TextEncoder().encode(data.key);
  if (data.encoding !== "base64") throw inputError(`${what}: unknown key encoding`);
  try {
    return Uint8Array.from(atob(data.key), (c) => c.charCodeAt(0));
  } catch {
    throw inputError(`${what}: the key is not valid base64`);
  }
}
