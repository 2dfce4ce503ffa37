/**
 * The fixed progress lines a job writes into its Slurm log, and how the
 * client reads them back. The log lies on the shared file system, so the
 * node writes only fixed tokens into it (never a file name, a path or a
 * system message), and the client believes nothing else from it:
 *
 *   sealbatch: keys fetched                       (the job script's milestones)
 *   sealbatch-node: failed: open-input: no-space  (a node step failed, and why)
 *
 * A failure line names the stage (what the node was doing) and the class
 * (why it failed, from the vocabulary below): enough for the researcher to
 * tell "the node could not open the input" from "your command failed".
 */
import { SealbatchError } from "../util/errors.ts";

/** What the node was doing, in the order the job script does it. */
export const NODE_STAGES = {
  "fetch-keys": "fetch the job's keys",
  "open-input": "open the input",
  "open-output": "prepare the output",
  "run-image": "run the image",
  "seal-results": "seal the results",
  "close-input": "close the input",
} as const;
export type NodeStage = keyof typeof NODE_STAGES;

/** Why a node step failed; each class reveals no file name. */
export const FAILURE_CLASSES = {
  "no-space": "no space left in the node's work directory",
  "key-fetch-refused": "the key service refused the job's credentials",
  "credential-used": "a credential of the job was already used (possible interception)",
  "key-service": "the key service could not be reached or failed",
  "wrong-key": "the job's key does not open the container",
  "refused": "a check on the node refused the job",
  "bad-input": "a file of the job is missing or malformed",
  "permission": "permission denied on the node",
  "tool": "a program on the node failed",
  "unknown": "an unexpected failure on the node",
} as const;
export type FailureClass = keyof typeof FAILURE_CLASSES;

/** What the researcher can do about a class (classes without one: see the Slurm log). */
export const FAILURE_HINTS: Partial<Record<FailureClass, string>> = {
  "no-space": "the node holds the decrypted input and the results in its work_dir: ask the site " +
    "for more room there (and put its size into the profile as node.work_dir_size), or split the input",
  "key-fetch-refused": "the job's single-use credentials were refused (expired or already " +
    "used): run the spec again with --new; if the job had not started, check 'sealbatch keys status'",
  "credential-used": "somebody else used the job's credential: revoke the keys " +
    "('sealbatch keys revoke') and tell the site",
  "key-service": "the node could not reach Vault: ask the site whether the nodes reach vault.addr",
  "wrong-key":
    "the container and the escrowed key do not belong together: run the spec again with --new",
  "permission": "the node refused a file of the job: ask the site (docs/admin.md)",
};

/** What the job script (and a job of several nodes' first node) reports, in order, as patterns ("job ended with status N" aside). */
export const MILESTONES = [
  "keys fetched",
  "data opened",
  // A job of several nodes: each node is ready for the command; the first says when all are.
  "node ready",
  "starting on \\d{1,3} nodes(?:: [A-Za-z0-9._-]{1,64}(?:, [A-Za-z0-9._-]{1,64}){0,63})?",
  "all \\d{1,3} nodes ready",
  "job started",
  "results sealed",
  "keys wiped",
  "receipt written \\(exit status \\d{1,3}\\)",
  "stopped before the command ran on any node \\(exit status \\d{1,3}\\)",
] as const;

const FAILURE_PREFIX = "sealbatch-node: failed: ";

function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 8;) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** The class of a node-side failure, from the error and its causes. */
export function classifyFailure(err: unknown): FailureClass {
  const all = chain(err);
  const noSpace = all.some((e) =>
    (e as { code?: unknown }).code === "ENOSPC" ||
    /No space left on device|os error 28\b/.test(String((e as Error)?.message ?? e))
  );
  if (noSpace) return "no-space";
  const known = all.find((e): e is SealbatchError => e instanceof SealbatchError);
  if (!known) return "unknown";
  if (known.kind === "intercepted") return "credential-used";
  if (known.kind === "kms") {
    return /refused|denied|not valid|invalid|permission|expired/i.test(known.message)
      ? "key-fetch-refused"
      : "key-service";
  }
  if (known.kind === "refused") {
    return /key does not open|wrong key/i.test(known.message) ? "wrong-key" : "refused";
  }
  if (known.kind === "input") return "bad-input";
  if (known.kind === "permission") return "permission";
  if (known.kind === "tool") return "tool";
  return "unknown";
}

/** The one line a failed node step writes into the Slurm log. */
export function failureLine(stage: NodeStage, klass: FailureClass): string {
  return `${FAILURE_PREFIX}${stage}: ${klass}`;
}

export interface NodeFailure {
  stage: NodeStage;
  class: FailureClass;
  /** A job of several nodes: the node that failed. */
  node?: number;
}

export interface NodeLog {
  /** The fixed progress lines, in order (anything else in the log is left out). */
  lines: string[];
  /** The first failed node step, if any. */
  failure?: NodeFailure;
  /** The job script started the command. */
  commandStarted: boolean;
  /** The status the command ended with, as the job script reported it. */
  commandStatus?: number;
}

/** A job of several nodes says which node a line is from: "sealbatch: node 2: keys fetched". */
const NODE = "(?:node \\d{1,3}: )?";
const MILESTONE_RE = new RegExp(
  `^sealbatch: ${NODE}(?:${MILESTONES.join("|")}|job ended with status (\\d{1,3}))$`,
);
export const VERIFIED_RE = new RegExp(
  `^sealbatch: ${NODE}job [A-Za-z0-9._-]{1,80} verified \\(signed by [0-9A-F]{40}\\)`,
);
/** What the job script itself says when a node step failed (also from nodes without class lines). */
const SCRIPT_FAILED: Record<string, NodeStage> = {
  "fetching the keys": "fetch-keys",
  "opening the input": "open-input",
  "opening the output": "open-output",
  "sealing the results": "seal-results",
  "closing the input": "close-input",
};
const SCRIPT_FAILED_RE = new RegExp(
  `^sealbatch: ${NODE}(${Object.keys(SCRIPT_FAILED).join("|")}) failed$`,
);
/** A node step's failure line: fixed words only, so it may pass to the Slurm log. */
export const FAILURE_RE = new RegExp(
  `^${FAILURE_PREFIX}(${Object.keys(NODE_STAGES).join("|")}): (${
    Object.keys(FAILURE_CLASSES).join("|")
  })(?: \\(node (\\d{1,3})\\))?$`,
);

/** A line of node I of a job of several nodes, as the log keeps it. */
export function tagNode(line: string, node: number): string {
  if (line.startsWith(FAILURE_PREFIX)) return `${line} (node ${node})`;
  if (line.startsWith("sealbatch: ")) return `sealbatch: node ${node}: ${line.slice(11)}`;
  return line;
}

/**
 * Read a fetched Slurm log: only the fixed tokens above are taken, so a log
 * that someone on the shared side rewrote can at worst change which of them
 * is shown, never inject text.
 */
export function parseNodeLog(text: string): NodeLog {
  const out: NodeLog = { lines: [], commandStarted: false };
  let scriptSaid: NodeStage | undefined;
  for (const raw of text.slice(0, 1 << 20).split("\n")) {
    const line = raw.trimEnd();
    const verified = VERIFIED_RE.exec(line);
    if (verified) {
      out.lines.push(verified[0]);
      continue;
    }
    const m = MILESTONE_RE.exec(line);
    if (m) {
      out.lines.push(line);
      if (line === "sealbatch: job started") out.commandStarted = true;
      if (m[1] !== undefined) out.commandStatus = Number(m[1]);
      continue;
    }
    const f = FAILURE_RE.exec(line);
    if (f) {
      out.lines.push(line);
      out.failure ??= {
        stage: f[1] as NodeStage,
        class: f[2] as FailureClass,
        ...(f[3] !== undefined ? { node: Number(f[3]) } : {}),
      };
      continue;
    }
    const s = SCRIPT_FAILED_RE.exec(line);
    if (s) {
      out.lines.push(line);
      scriptSaid ??= SCRIPT_FAILED[s[1]!]!;
    }
  }
  if (!out.failure && scriptSaid) out.failure = { stage: scriptSaid, class: "unknown" };
  return out;
}

/**
 * The log's steps per node ("keys fetched", ...), in order: key -1 for the
 * lines of the job as a whole (a one-node job's, or its first node's coordination).
 */
export function stepsByNode(log: NodeLog): Map<number, string[]> {
  const out = new Map<number, string[]>([[-1, []]]);
  for (const line of log.lines) {
    const m = /^sealbatch(?:-node)?: (?:node (\d{1,3}): )?(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1] === undefined ? -1 : Number(m[1]);
    const step = m[2]!.replace(/^job \S+ (verified) .*/, "$1").replace(/ \(node \d{1,3}\)$/, "");
    out.set(key, [...(out.get(key) ?? []), step]);
  }
  if (out.get(-1)!.length === 0) out.delete(-1);
  return new Map([...out].sort(([a], [b]) => a - b));
}

/** "the node could not open the input: no space left in ...; your command never ran" */
export function describeFailure(log: NodeLog): string | undefined {
  const f = log.failure;
  if (!f) return undefined;
  const never = log.commandStarted ? "" : "; your command never ran";
  return `${f.node === undefined ? "the node" : `node ${f.node}`} could not ${
    NODE_STAGES[f.stage]
  }: ${FAILURE_CLASSES[f.class]} (${f.class})${never}`;
}
