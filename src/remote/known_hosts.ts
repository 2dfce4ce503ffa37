/**
 * Host key policy: OpenSSH `known_hosts` (plain, hashed `|1|`, `[host]:port`,
 * patterns, `@revoked`) or one pinned SHA256 fingerprint. Unknown and changed
 * keys are refusals that show the fingerprint the server presented.
 */
import { createHash, createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import { inputError, q, refusal } from "../util/errors.ts";

export interface KnownHostEntry {
  /** Host patterns (plain entries) or a hashed entry's salt/hash. */
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  /** Base64 of the key blob, exactly as in the file. */
  key: string;
  revoked: boolean;
}

export interface HostKeyPolicy {
  knownHostsFile?: string;
  /** "SHA256:..." as printed by `ssh-keygen -lf`; replaces known_hosts when set. */
  fingerprint?: string;
  /** Add an unknown host's key to known_hosts (never replaces a changed one). */
  acceptNew?: boolean;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function fingerprintOf(blob: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Uint8Array): string {
  if (blob.length < 4) return "unknown";
  const len = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  if (len > 64 || 4 + len > blob.length) return "unknown";
  return new TextDecoder().decode(blob.subarray(4, 4 + len));
}

export function parseKnownHosts(text: string, file = "known_hosts"): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith("@")) {
      if (fields[0] === "@cert-authority") return; // host certificates are not used here
      if (fields[0] !== "@revoked") {
        throw inputError(`${file}:${i + 1}: unknown marker ${q(fields[0])}`);
      }
      revoked = true;
      fields = fields.slice(1);
    }
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key || !/^[A-Za-z0-9+/]+=*$/.test(key)) {
      throw inputError(`${file}:${i + 1}: expected "HOSTS KEYTYPE BASE64KEY"`);
    }
    if (hosts.startsWith("|1|")) {
      const [salt, hash] = hosts.slice(3).split("|");
      if (!salt || !hash) throw inputError(`${file}:${i + 1}: malformed hashed host entry`);
      entries.push({
        hashed: { salt: Buffer.from(salt, "base64"), hash: Buffer.from(hash, "base64") },
        keyType,
        key,
        revoked,
      });
    } else {
      entries.push({ patterns: hosts.split(","), keyType, key, revoked });
    }
  });
  return entries;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") +
      "$",
    "i",
  );
  return re.test(name);
}

export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const mac = createHmac("sha1", entry.hashed.salt).update(name).digest();
    return mac.equals(entry.hashed.hash);
  }
  let matched = false;
  for (const pattern of entry.patterns ?? []) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  | { ok: true; fingerprint: string }
  | { ok: false; reason: "unknown" | "changed" | "revoked"; fingerprint: string };

/** Decide about one presented key blob. Pure: the caller does any file update. */
export function judgeHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  blob: Uint8Array,
): HostKeyVerdict {
  const name = hostKeyName(host, port);
  const presented = Buffer.from(blob).toString("base64");
  const fingerprint = fingerprintOf(blob);
  const mine = entries.filter((e) => entryMatches(e, name));
  if (mine.some((e) => e.revoked && e.key === presented)) {
    return { ok: false, reason: "revoked", fingerprint };
  }
  if (mine.some((e) => !e.revoked && e.key === presented)) return { ok: true, fingerprint };
  return { ok: false, reason: mine.some((e) => !e.revoked) ? "changed" : "unknown", fingerprint };
}

/** Host key algorithms to offer so the server presents a type we know for it (as OpenSSH does). */
export function knownKeyAlgorithms(
  entries: KnownHostEntry[],
  host: string,
  port: number,
): string[] {
  const name = hostKeyName(host, port);
  const types = new Set(
    entries.filter((e) => !e.revoked && entryMatches(e, name)).map((e) => e.keyType),
  );
  const algos: string[] = [];
  for (const t of types) {
    if (t === "ssh-rsa") algos.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
    else algos.push(t);
  }
  return algos;
}

/** The refusal for a verdict that is not ok, with what to do about it. */
export function hostKeyRefusal(
  verdict: Extract<HostKeyVerdict, { ok: false }>,
  host: string,
  port: number,
  keyType: string,
  source: string,
): Error {
  const name = q(hostKeyName(host, port));
  const shown = `${verdict.fingerprint} (${keyType})`;
  switch (verdict.reason) {
    case "unknown":
      return refusal(`host key of ${name} is not known in ${source}: server presented ${shown}`, {
        hint: "compare the fingerprint with the one the site publishes, then add the key to " +
          "known_hosts (ssh-keyscan) or pin it; --accept-new adds it on first use",
      });
    case "changed":
      return refusal(
        `host key of ${name} does not match ${source}: server presented ${shown}; ` +
          "the connection may be intercepted",
        { hint: "if the site changed its host key, verify the new fingerprint out of band first" },
      );
    case "revoked":
      return refusal(`host key of ${name} is marked @revoked in ${source}: ${shown}`);
  }
}
