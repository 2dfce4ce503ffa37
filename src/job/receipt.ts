/**
 * The receipt a node signs after a job: which job ran (id and the manifest's
 * nonce), for whom, when, with what exit status, and the SHA-256 of the
 * results container it left. The client holds it to the job it submitted:
 *
 *   {"v":1,"kind":"sealbatch-receipt","job":"J","nonce":"HEX","user":"U","slurm_job":"123"|null,
 *    "signer":"FPR","results":{"path":"output.results.img","sha256":"HEX","bytes":N}|null,
 *    "started_at":"RFC3339","ended_at":"RFC3339","exit_code":N}
 *
 * A job of several nodes adds "nodes": every node that ran it, in Slurm's
 * order, with the results container it sealed (null where only the first
 * node's results are kept); "results" is then node 0's.
 *
 * receipt.json.sig is an armored detached signature by the node key over the
 * exact bytes of receipt.json. The file comes back from the shared file
 * system, so it is untrusted until the signature and every field check out.
 */
import { q, reason, refusal } from "../util/errors.ts";
import { NAME_RE } from "../util/user.ts";
import { parsePublicKey } from "../pgp/keys.ts";
import { verifyDetached } from "../pgp/verify.ts";
import { checkInputPath } from "./manifest.ts";

export interface ReceiptResults {
  /** Relative to the job directory, as the manifest names it. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface Receipt {
  v: 1;
  kind: "sealbatch-receipt";
  job: string;
  nonce: string;
  user: string;
  slurm_job: string | null;
  /** Fingerprint (uppercase hex) of the key that signed the job. */
  signer: string;
  /** null when the job left no results file. */
  results: ReceiptResults | null;
  started_at: string;
  ended_at: string;
  exit_code: number;
  /** Jobs of several nodes only. */
  nodes?: ReceiptNode[];
}

export interface ReceiptNode {
  host: string;
  results: ReceiptResults | null;
}

/** A receipt is a few hundred bytes; anything far larger is not one. */
export const MAX_RECEIPT_BYTES = 16 * 1024;

const FIELDS = [
  "v",
  "kind",
  "job",
  "nonce",
  "user",
  "slurm_job",
  "signer",
  "results",
  "started_at",
  "ended_at",
  "exit_code",
  "nodes",
] as const;
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const MAX_RECEIPT_NODES = 64;
const NONCE_RE = /^[0-9a-f]{32,128}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const FPR_RE = /^[0-9A-F]{40}$|^[0-9A-F]{64}$/;
const SLURM_ID_RE = /^[0-9A-Za-z_.-]{1,64}$/;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 UTC to the second, as receipts and manifests write times. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The receipt's bytes: fixed field order, one line. */
export function buildReceipt(r: Omit<Receipt, "v" | "kind">): Uint8Array {
  const full: Receipt = { ...r, v: 1, kind: "sealbatch-receipt" };
  const ordered = Object.fromEntries(FIELDS.map((k) => [k, full[k]]));
  return new TextEncoder().encode(`${JSON.stringify(ordered)}\n`);
}

/** Strict parser of receipt bytes (any deviation is a refusal). */
export function parseReceipt(bytes: Uint8Array): Receipt {
  const bad = (why: string) =>
    refusal(`invalid receipt: ${why}`, {
      hint: "the receipt must be the node's receipt.json, unchanged",
    });
  if (bytes.length > MAX_RECEIPT_BYTES) throw bad(`larger than ${MAX_RECEIPT_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("not UTF-8 JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("not an object");
  const d = doc as Record<string, unknown>;
  const extra = Object.keys(d).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra !== undefined) throw bad(`unknown field ${q(extra)}`);
  if (d.v !== 1 || d.kind !== "sealbatch-receipt") throw bad("not a version 1 sealbatch receipt");
  const str = (k: string, re: RegExp): string => {
    const value = d[k];
    if (typeof value !== "string" || !re.test(value)) throw bad(`${k} missing or invalid`);
    return value;
  };
  const job = str("job", NAME_RE);
  const nonce = str("nonce", NONCE_RE);
  const user = str("user", NAME_RE);
  const signer = str("signer", FPR_RE);
  const startedAt = str("started_at", RFC3339_RE);
  const endedAt = str("ended_at", RFC3339_RE);
  const slurmJob = d.slurm_job === null ? null : str("slurm_job", SLURM_ID_RE);
  const code = d.exit_code;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 255) {
    throw bad("exit_code missing or invalid");
  }
  const resultsOf = (r: unknown, what: string): ReceiptResults | null => {
    if (r === null) return null;
    if (typeof r !== "object" || r === undefined || Array.isArray(r)) throw bad(`invalid ${what}`);
    const o = r as Record<string, unknown>;
    if (Object.keys(o).some((k) => !["path", "sha256", "bytes"].includes(k))) {
      throw bad(`${what} has unknown fields`);
    }
    if (typeof o.path !== "string") throw bad(`${what}.path missing`);
    try {
      checkInputPath(o.path);
    } catch {
      throw bad(`${what}.path is not a relative path`);
    }
    if (typeof o.sha256 !== "string" || !SHA256_RE.test(o.sha256)) {
      throw bad(`${what}.sha256 missing or invalid`);
    }
    if (typeof o.bytes !== "number" || !Number.isSafeInteger(o.bytes) || o.bytes < 0) {
      throw bad(`${what}.bytes missing or invalid`);
    }
    return { path: o.path, sha256: o.sha256, bytes: o.bytes };
  };
  const results = resultsOf(d.results, "results");
  let nodes: ReceiptNode[] | undefined;
  if (d.nodes !== undefined) {
    const list = d.nodes;
    if (!Array.isArray(list) || list.length < 2 || list.length > MAX_RECEIPT_NODES) {
      throw bad(`nodes must list 2-${MAX_RECEIPT_NODES} nodes`);
    }
    nodes = list.map((entry: unknown, i) => {
      const what = `nodes[${i}]`;
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw bad(`invalid ${what}`);
      }
      const e = entry as Record<string, unknown>;
      if (Object.keys(e).some((k) => !["host", "results"].includes(k))) {
        throw bad(`${what} has unknown fields`);
      }
      if (typeof e.host !== "string" || !HOST_RE.test(e.host)) throw bad(`${what}.host invalid`);
      return { host: e.host, results: resultsOf(e.results ?? null, `${what}.results`) };
    });
  }
  return {
    v: 1,
    kind: "sealbatch-receipt",
    job,
    nonce,
    user,
    slurm_job: slurmJob,
    signer,
    results,
    started_at: startedAt,
    ended_at: endedAt,
    exit_code: code,
    ...(nodes ? { nodes } : {}),
  };
}

export interface VerifyReceiptInput {
  receipt: Uint8Array;
  /** receipt.json.sig (armored). */
  signature: string;
  /** The node's armored public key. */
  nodePublicKey: string;
  expect: {
    job: string;
    nonce: string;
    resultsSha256?: string;
    /** A job of several nodes: how many, and the SHA-256 of each node's fetched results (I > 0). */
    nodes?: number;
    nodeResultsSha256?: Record<number, string>;
  };
}

/**
 * Check the node's signature over the exact bytes, then that the receipt is
 * about the job that was submitted (id and nonce) and, when given, about the
 * results container that was fetched. Every failure is a refusal.
 */
export async function verifyReceipt(o: VerifyReceiptInput): Promise<Receipt> {
  if (o.receipt.length > MAX_RECEIPT_BYTES) {
    throw refusal(`invalid receipt: larger than ${MAX_RECEIPT_BYTES} bytes`);
  }
  let key;
  try {
    key = await parsePublicKey(o.nodePublicKey, "node public key");
  } catch (err) {
    throw refusal(`cannot verify the receipt: ${reason(err)}`);
  }
  await verifyDetached(
    o.receipt,
    new TextEncoder().encode(o.signature),
    key,
    "receipt",
  );
  const r = parseReceipt(o.receipt);
  if (r.job !== o.expect.job) {
    throw refusal(`the receipt is for job ${q(r.job)}, not for ${q(o.expect.job)}`);
  }
  if (r.nonce !== o.expect.nonce) {
    throw refusal(
      `the receipt of job ${
        q(r.job)
      } carries another nonce than the submitted job (a replayed or foreign receipt)`,
    );
  }
  const want = o.expect.resultsSha256;
  if (want !== undefined) {
    if (r.results === null) {
      throw refusal(`the receipt of job ${q(r.job)} says the job left no results`);
    }
    if (r.results.sha256 !== want) {
      throw refusal(
        `the results container does not match the receipt of job ${q(r.job)}: ` +
          `SHA-256 ${want} fetched, ${r.results.sha256} signed by the node`,
      );
    }
  }
  const nodes = o.expect.nodes ?? 1;
  if ((r.nodes?.length ?? 1) !== nodes) {
    throw refusal(
      `the receipt of job ${q(r.job)} names ${r.nodes?.length ?? 1} node(s), ` +
        `but the job was sealed for ${nodes}`,
    );
  }
  for (const [index, sha] of Object.entries(o.expect.nodeResultsSha256 ?? {})) {
    const signed = r.nodes?.[Number(index)]?.results;
    if (signed?.sha256 !== sha) {
      throw refusal(
        `the results of node ${index} do not match the receipt of job ${q(r.job)}: ` +
          `SHA-256 ${sha} fetched, ${signed?.sha256 ?? "none"} signed by the node`,
      );
    }
  }
  return r;
}
