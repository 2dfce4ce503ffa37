/**
 * Where a sealed job goes: a site over SSH + Slurm (site_backend.ts), or a
 * local directory standing in for the shared file system (local_backend.ts).
 * `runJob` talks only to this interface.
 */
import type { SlurmResources } from "../config/site.ts";
import type { JobResult } from "../slurm/slurm.ts";
import type { CheckLine } from "../remote/check.ts";

export type { JobResult, SlurmResources };

export interface UploadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** The same bytes were already there (verified by size and SHA-256): nothing was sent. */
  skipped: boolean;
  /** Bytes an interrupted earlier attempt had already sent (the upload continued after them). */
  resumedFrom: number;
}

export interface Backend extends AsyncDisposable {
  /** For messages: "testsite (sbtest@127.0.0.1:22220)" or "local executor". */
  readonly label: string;
  /** What protects each step on this backend, for the run summary (only what is true here). */
  readonly protects: { upload: string; submit: string; wait: string; fetch: string };
  /**
   * Remote checks for --dry-run and `site check` (src/remote/check.ts);
   * `nodes`: the job's, when a dry run knows it (else the site's default).
   */
  check(opts?: { nodes?: number }): Promise<CheckLine[]>;
  /** The job's directory on the shared side. */
  jobDir(job: string): string;
  /**
   * Verified upload of `files` into `remoteDir` (results in the same order);
   * the last one is put in place only after all the others are. skipped=true
   * when the same sha256 is already there (resume).
   */
  upload(
    files: string[],
    remoteDir: string,
    onProgress?: (file: string, done: number, total: number) => void,
  ): Promise<UploadResult[]>;
  download(remote: string, local: string): Promise<{ sha256: string; bytes: number }>;
  /** Submit `<jobDir>/run.sh`; returns the job id. */
  submit(jobDir: string, resources: SlurmResources, name: string): Promise<string>;
  /** Wait until the job reaches any terminal state. */
  wait(id: string, onState?: (state: string) => void): Promise<JobResult>;
  cancel(id: string): Promise<void>;
  /** Remove the job's directory on the shared side (`job clean`); true when it is gone. */
  removeJobDir(job: string): Promise<boolean>;
}
