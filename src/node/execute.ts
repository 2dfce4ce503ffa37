/**
 * Run the decrypted script with bash as the job user, from a 0700 private
 * directory on node-local memory-backed storage (or work_dir).
 *
 * A job that seals its results keeps everything it says out of the Slurm log
 * (it lies on the shared file system): the node owns the script's stdout and
 * stderr through pipes, never handing it the log's descriptor, and passes on
 * only fixed progress lines (PROGRESS_LINE) and node steps' failure lines
 * (FAILURE_RE, fixed words: the client tells from them what failed). So no later change of the script,
 * nor bash reporting a command killed by a signal, can reach the log; and when
 * the node side dies, the pipes die with it. Other jobs (sealed by hand, the
 * reference flavour) write where their script says, as on the reference site.
 */
import { exec } from "../util/exec.ts";
import { HINT_LINE, PROGRESS_LINE } from "../render/sealbatch.ts";
import { FAILURE_RE, tagNode, VERIFIED_RE } from "../job/progress.ts";
import { lineSink } from "../util/line_sink.ts";
import { writeSecretFile } from "../util/secret_file.ts";
import type { PrivateDir } from "../util/secret_file.ts";
import { type Account, asAccount } from "./account.ts";

export interface ExecuteInput {
  payload: Uint8Array;
  account: Account;
  /** Working directory of the script: the directory of run.sh. */
  cwd: string;
  /** 0700 private directory for the script; the caller removes it. */
  dir: PrivateDir;
  /** Extra variables for the script (Slurm ids, Vault address, ...). */
  env: Record<string, string>;
  /** The job seals its results: only progress lines may reach the log. */
  sealed: boolean;
  /** A job of several nodes: what the node side tells the script (default: nothing). */
  stdin?: ReadableStream<Uint8Array>;
  /** Each progress line passed on to the log (the node side of a job of several nodes listens). */
  onProgress?: (line: string) => void;
  /** Ends the script (its whole process group): another node of the job failed. */
  signal?: AbortSignal;
}

const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

/** Lines longer than this are not progress lines; they are withheld unread. */
const MAX_LINE = 4096;

/** Our stderr is the Slurm log. */
function toLog(line: string): void {
  const bytes = new TextEncoder().encode(`${line}\n`);
  for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
}

export interface ProgressSinkOptions {
  /** Called with each progress line passed on. */
  onProgress?: (line: string) => void;
  /**
   * The lines come from every node of a job through srun --label ("I: ..."):
   * each is passed on naming its node (tagNode), a node's "verified" line too.
   */
  labelled?: boolean;
}

/**
 * A sink that passes on progress lines only (and the `hint:` line right after
 * a sealbatch error); overlong lines are dropped whole, unread.
 */
export function progressSink(opts: ProgressSinkOptions = {}): WritableStream<Uint8Array> {
  // Per node: a hint belongs to the error its own node said just before.
  const afterError = new Set<number | undefined>();
  const forward = (raw: string) => {
    let line = raw;
    let node: number | undefined;
    if (opts.labelled) {
      const m = /^\s*(\d{1,3}): (.*)$/.exec(raw);
      if (!m) return;
      [node, line] = [Number(m[1]), m[2]!];
    }
    const progress = PROGRESS_LINE.test(line) || (node !== undefined && VERIFIED_RE.test(line));
    if (progress || FAILURE_RE.test(line) || (afterError.has(node) && HINT_LINE.test(line))) {
      toLog(node === undefined ? line : tagNode(line, node));
    }
    if (progress) opts.onProgress?.(line);
    if (progress && line.startsWith("sealbatch: error: ")) afterError.add(node);
    else afterError.delete(node);
  };
  // A hint passes right after its error only: an overlong line between them breaks the pair.
  return lineSink(forward, MAX_LINE, () => afterError.clear());
}

/** Returns the script's exit status. */
export async function executeScript(input: ExecuteInput): Promise<number> {
  const { account, dir } = input;
  const dropPrivileges = Deno.uid() === 0 && account.uid !== 0;
  const script = `${dir.path}/command.sh`;
  await writeSecretFile(script, input.payload);
  if (dropPrivileges) {
    await Deno.chown(dir.path, account.uid, account.gid);
    await Deno.chown(script, account.uid, account.gid);
  }
  const env = {
    ...input.env,
    HOME: account.home,
    USER: account.name,
    LOGNAME: account.name,
    SEALBATCH_WORK_DIR: dir.path,
  };
  const [program, args] = asAccount(account, "bash", [script]);
  const sinkOpts = input.onProgress ? { onProgress: input.onProgress } : {};
  const out = await exec(program, [...args], {
    cwd: input.cwd,
    env,
    ...(input.sealed
      ? { stdoutTo: progressSink(sinkOpts), stderrTo: progressSink(sinkOpts) }
      : { inherit: "both" as const }),
    ...(input.stdin ? { stdin: input.stdin } : {}),
    ...(input.signal ? { signal: input.signal, processGroup: true } : {}),
    okCodes: ANY_EXIT,
    what: "running the job",
    kind: "job",
  });
  return out.code;
}
