/**
 * The manifest: line 2 of the encrypted command script, a bash comment with
 * JSON, so a node that knows nothing of it still runs the script:
 *
 *   # sealbatch-manifest: {"v":1,"job":"ID","nonce":"HEX","not_after":"RFC3339","user":"NAME","inputs":{...}}
 *
 * An optional "results" names the file the node hashes into its signed receipt.
 * A job of several nodes says how many ("nodes", the allocation must match)
 * and whether every node seals its own results ("outputs_from": "all") or
 * only the first one does ("first"); node I > 0 seals to resultsOfNode().
 */
import { inputError, q } from "../util/errors.ts";
import { NAME_RE } from "../util/user.ts";
import { MAX_NODES } from "../kms/credentials.ts";

export const MANIFEST_PREFIX = "# sealbatch-manifest: ";

export interface Manifest {
  v: 1;
  job: string;
  nonce: string;
  /** RFC 3339 UTC time after which the node refuses the job. */
  not_after: string;
  user: string;
  /** Paths relative to the directory of run.sh on the node -> SHA-256 hex. */
  inputs: Record<string, string>;
  /** The results container the node hashes into its receipt (relative, like inputs). */
  results?: string;
  /** Nodes the job runs on (2 or more; absent: one). */
  nodes?: number;
  /** With nodes: tasks of the command on each node (absent: one). */
  tasks_per_node?: number;
  /** With nodes: whose results are kept (absent: "first"). */
  outputs_from?: OutputsFrom;
}

/** Whose results a job of several nodes keeps: the first node's, or every node's. */
export type OutputsFrom = "first" | "all";

/** The results container of node `index`: node 0 keeps the manifest's name. */
export function resultsOfNode(results: string, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw inputError(`invalid node index ${index}`);
  return index === 0 ? results : results.replace(/(\.img)?$/, `.node-${index}$1`);
}

const NONCE_RE = /^[0-9a-f]{32,128}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const KEYS = [
  "v",
  "job",
  "nonce",
  "not_after",
  "user",
  "inputs",
  "results",
  "nodes",
  "tasks_per_node",
  "outputs_from",
];

/** A relative path that stays below the job directory. */
export function checkInputPath(path: string): string {
  const parts = path.split("/");
  if (
    path === "" || path.startsWith("/") || path.length > 1024 || /[\0\n\r]/.test(path) ||
    parts.some((p) => p === "" || p === "." || p === "..")
  ) {
    throw inputError(`invalid input path ${q(path)}: must be relative, inside the job directory`);
  }
  return path;
}

/** Command script -> payload: `#!/bin/bash`, the manifest line, then the script without its shebang. */
export function buildPayload(command: string, manifest: Manifest): string {
  const text = command.replace(/\r\n/g, "\n");
  let body = text;
  if (text.startsWith("#!")) {
    const newline = text.indexOf("\n");
    const shebang = newline < 0 ? text : text.slice(0, newline);
    if (!/^#!\s*(\/usr\/bin\/env\s+)?(\/usr)?(\/bin\/)?(ba)?sh(\s|$)/.test(shebang)) {
      throw inputError(`the command script must be a bash script, not ${q(shebang)}`, {
        hint: "the node runs it with bash; call other interpreters from inside it",
      });
    }
    body = newline < 0 ? "" : text.slice(newline + 1);
  }
  return `#!/bin/bash\n${MANIFEST_PREFIX}${JSON.stringify(manifest)}\n${body}`;
}

/**
 * The manifest of a decrypted payload, or undefined when it has none (a
 * script made the reference way). A present but invalid manifest throws.
 */
export function readManifest(payload: string): Manifest | undefined {
  const lines = payload.split("\n", 3);
  const line = (lines[1] ?? "").replace(/\r$/, "");
  if (!line.startsWith("# sealbatch-manifest:")) return undefined;
  const json = line.slice("# sealbatch-manifest:".length).trim();
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw inputError("invalid manifest: not JSON");
  }
  return validateManifest(value);
}

export function validateManifest(value: unknown): Manifest {
  const bad = (why: string) => inputError(`invalid manifest: ${why}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("not an object");
  }
  const m = value as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!KEYS.includes(key)) throw bad(`unknown field ${q(key)}`);
  if (m.v !== 1) throw bad(`unsupported version ${q(m.v)}`);
  if (typeof m.job !== "string" || !NAME_RE.test(m.job)) throw bad("job id missing or invalid");
  if (typeof m.nonce !== "string" || !NONCE_RE.test(m.nonce)) throw bad("nonce missing or invalid");
  if (typeof m.user !== "string" || !NAME_RE.test(m.user)) throw bad("user missing or invalid");
  if (typeof m.not_after !== "string" || Number.isNaN(Date.parse(m.not_after))) {
    throw bad("not_after missing or not an RFC 3339 time");
  }
  const inputs = m.inputs;
  if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
    throw bad("inputs is not an object");
  }
  for (const [path, hash] of Object.entries(inputs)) {
    checkInputPath(path);
    if (typeof hash !== "string" || !SHA256_RE.test(hash)) {
      throw bad(`input ${q(path)} has no SHA-256`);
    }
  }
  if (m.results !== undefined) {
    if (typeof m.results !== "string") throw bad("results is not a path");
    checkInputPath(m.results);
  }
  if (m.nodes !== undefined) {
    const n = m.nodes;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 2 || n > MAX_NODES) {
      throw bad(`nodes must be a whole number 2-${MAX_NODES}`);
    }
  }
  if (m.tasks_per_node !== undefined) {
    const t = m.tasks_per_node;
    if (m.nodes === undefined) throw bad("tasks_per_node without nodes");
    if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > 1024) {
      throw bad("tasks_per_node must be a whole number 1-1024");
    }
  }
  if (m.outputs_from !== undefined) {
    if (m.nodes === undefined) throw bad("outputs_from without nodes");
    if (m.outputs_from !== "first" && m.outputs_from !== "all") {
      throw bad(`outputs_from must be "first" or "all", not ${q(m.outputs_from)}`);
    }
  }
  return m as unknown as Manifest;
}
