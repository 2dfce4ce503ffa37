/**
 * The local executor behind `sealbatch demo`: a directory on this machine
 * stands in for the site's shared file system, and "submitting" runs the node
 * side the way Slurm's batch step would: `sealbatch node decrypt-and-execute
 * --script JOBDIR/run.sh` in the job directory, the here-document's message on
 * stdin, the node config in SEALBATCH_NODE_CONFIG, stdout and stderr into
 * JOBDIR/slurm-ID.out. Same run.sh, same signature check, same decryption,
 * same key fetch as on a real node. Slurm resources are not enforced here.
 */
import type { SlurmResources } from "../config/site.ts";
import { unwrapRunScript } from "../job/envelope.ts";
import type { JobResult } from "../slurm/slurm.ts";
import { inputError, q, reason, SealbatchError } from "../util/errors.ts";
import { exec } from "../util/exec.ts";
import { exists, readTextCapped, sha256File } from "../util/files.ts";
import { onCleanup } from "../util/cleanup.ts";
import type { Backend, UploadResult } from "./backend.ts";
import type { CheckLine } from "../remote/check.ts";

export interface LocalBackendOptions {
  /** Stands in for the shared file system; jobs live in ROOT/jobs/JOB. */
  root: string;
  /** Node config (YAML) handed to the node side in SEALBATCH_NODE_CONFIG. */
  nodeConfig: string;
  /** argv that runs sealbatch (selfCommand()). */
  nodeCommand: string[];
}

interface RunningJob {
  abort: AbortController;
  done: Promise<JobResult>;
}

const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);
/** run.sh is an armored message plus four lines; the node refuses larger ones anyway. */
const MAX_SCRIPT_BYTES = 64 * 1024 * 1024;

function absolute(path: string): string {
  return (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).replace(/\/+$/, "") || "/";
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Copy `from` to `to` through a temporary sibling; the copy is hashed before it is renamed. */
async function copyVerified(
  from: string,
  to: string,
): Promise<{ sha256: string; bytes: number }> {
  const sha256 = await sha256File(from);
  const tmp = `${to}.${crypto.randomUUID().slice(0, 8)}.part`;
  const drop = onCleanup(() => Deno.remove(tmp).catch(() => {}));
  try {
    await Deno.copyFile(from, tmp);
    const copied = await sha256File(tmp);
    if (copied !== sha256) {
      throw new SealbatchError("remote", `copy of ${q(from)} to ${q(to)} does not verify`);
    }
    const bytes = (await Deno.stat(tmp)).size;
    await Deno.rename(tmp, to);
    return { sha256, bytes };
  } finally {
    await drop();
  }
}

export class LocalBackend implements Backend {
  readonly label = "local executor";
  // No network and no Slurm: a local directory stands in for the shared file system.
  readonly protects = {
    upload: "local copy into the stand-in shared directory, verified by SHA-256",
    submit: "the node side run here, as Slurm would run it (resources not enforced)",
    wait: "the job log (slurm-ID.out) carries progress lines only",
    fetch: "local copy, verified by SHA-256",
  };
  readonly #opts: LocalBackendOptions;
  readonly #jobs = new Map<string, RunningJob>();
  #next = 1;

  constructor(opts: LocalBackendOptions) {
    if (opts.nodeCommand.length === 0) throw inputError("the local executor needs a node command");
    // The node side runs in the job directory: every path it gets must be absolute.
    this.#opts = { ...opts, root: absolute(opts.root), nodeConfig: absolute(opts.nodeConfig) };
  }

  async check(): Promise<CheckLine[]> {
    const lines: CheckLine[] = [];
    const ok = (check: string, detail: string) => lines.push({ check, ok: true, detail });
    const root = await Deno.stat(this.#opts.root).catch(() => undefined);
    if (!root?.isDirectory) {
      throw inputError(`the stand-in shared directory ${q(this.#opts.root)} does not exist`);
    }
    ok("shared directory (stand-in)", this.#opts.root);
    if (!(await exists(this.#opts.nodeConfig))) {
      throw inputError(`the local node config ${q(this.#opts.nodeConfig)} does not exist`);
    }
    ok("node config", this.#opts.nodeConfig);
    ok("node command", this.#opts.nodeCommand.join(" "));
    return lines;
  }

  jobDir(job: string): string {
    return `${this.#opts.root}/jobs/${job}`;
  }

  async upload(
    files: string[],
    remoteDir: string,
    onProgress?: (file: string, done: number, total: number) => void,
  ): Promise<UploadResult[]> {
    await Deno.mkdir(remoteDir, { recursive: true });
    const results: UploadResult[] = [];
    // In order, one after the other: the last file appears after all the others.
    for (const local of files) {
      const path = `${remoteDir}/${baseName(local)}`;
      if (await exists(path)) {
        const [there, here] = await Promise.all([sha256File(path), sha256File(local)]);
        if (there === here) {
          const bytes = (await Deno.stat(path)).size;
          onProgress?.(local, bytes, bytes);
          results.push({ path, sha256: there, bytes, skipped: true, resumedFrom: 0 });
          continue;
        }
      }
      const copied = await copyVerified(local, path);
      onProgress?.(local, copied.bytes, copied.bytes);
      results.push({ path, ...copied, skipped: false, resumedFrom: 0 });
    }
    return results;
  }

  download(remote: string, local: string): Promise<{ sha256: string; bytes: number }> {
    return copyVerified(remote, local);
  }

  async submit(dir: string, _resources: SlurmResources, name: string): Promise<string> {
    const jobDir = absolute(dir);
    const script = `${jobDir}/run.sh`;
    // What bash would feed decrypt_and_execute from run.sh's here-document.
    const message = unwrapRunScript(await readTextCapped(script, MAX_SCRIPT_BYTES, "batch script"));
    const id = `local-${this.#next++}`;
    const log = await Deno.open(`${jobDir}/slurm-${id}.out`, {
      write: true,
      createNew: true,
      mode: 0o644,
    });
    const abort = new AbortController();
    // Ctrl-C of the client stops the job too (it runs in its own process group).
    const forget = onCleanup(() => abort.abort());
    const done = this.#run(id, jobDir, name, message, log, abort.signal).finally(forget);
    this.#jobs.set(id, { abort, done });
    return id;
  }

  async #run(
    id: string,
    jobDir: string,
    name: string,
    message: string,
    log: Deno.FsFile,
    signal: AbortSignal,
  ): Promise<JobResult> {
    const encoder = new TextEncoder();
    // stdout chunks and stderr lines go to the one log in arrival order.
    let writing = Promise.resolve();
    const append = (bytes: Uint8Array) => {
      writing = writing.then(async () => {
        for (let at = 0; at < bytes.length;) at += await log.write(bytes.subarray(at));
      });
      return writing;
    };
    let code: number;
    try {
      // Through bash's exec, as a batch step starts it: sealbatch's own path is only known at
      // run time, so it cannot be on the --allow-run list; bash is.
      const r = await exec(
        "bash",
        [
          "-c",
          'exec "$@"',
          "sealbatch-node",
          ...this.#opts.nodeCommand,
          "node",
          "decrypt-and-execute",
          "--script",
          `${jobDir}/run.sh`,
        ],
        {
          cwd: jobDir,
          env: {
            SEALBATCH_NODE_CONFIG: this.#opts.nodeConfig,
            SLURM_JOB_NAME: name,
            SLURM_SUBMIT_DIR: jobDir,
          },
          stdin: message,
          stdoutTo: new WritableStream({ write: (chunk) => append(chunk) }),
          onStderrLine: (line) => void append(encoder.encode(`${line}\n`)),
          okCodes: ANY_EXIT,
          signal,
          processGroup: true,
          what: `running local job ${id}`,
        },
      );
      code = r.code;
    } catch (err) {
      await append(encoder.encode(`sealbatch: ${reason(err)}\n`));
      code = -1;
    } finally {
      await writing.catch(() => {});
      log.close();
    }
    if (signal.aborted) return { id, state: "CANCELLED", outcome: "cancelled" };
    return code === 0
      ? { id, state: "COMPLETED", outcome: "completed", exitCode: "0:0" }
      : { id, state: "FAILED", outcome: "failed", exitCode: `${Math.max(code, 0)}:0` };
  }

  async wait(id: string, onState?: (state: string) => void): Promise<JobResult> {
    const job = this.#jobs.get(id);
    if (!job) throw inputError(`no local job ${q(id)} was submitted in this run`);
    onState?.("RUNNING");
    const result = await job.done;
    onState?.(result.state);
    return result;
  }

  async cancel(id: string): Promise<void> {
    const job = this.#jobs.get(id);
    if (!job) throw inputError(`no local job ${q(id)} was submitted in this run`);
    job.abort.abort();
    await job.done;
  }

  async removeJobDir(job: string): Promise<boolean> {
    await Deno.remove(this.jobDir(job), { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    return !(await exists(this.jobDir(job)));
  }

  /** Cancels jobs that are still running (an interrupted demo leaves no node process behind). */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const job of this.#jobs.values()) job.abort.abort();
    await Promise.allSettled([...this.#jobs.values()].map((j) => j.done));
    this.#jobs.clear();
  }
}
