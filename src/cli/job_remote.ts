/** `sealbatch job submit|status|wait|cancel|fetch`: one job on a remote site. */
import { Command } from "@commander-js/extra-typings";
import { q, SealbatchError } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";
import { joinRemote, remoteName, remotePath, sh } from "../remote/quote.ts";
import { sshShell } from "../slurm/shell.ts";
import { cancel, JobEndedError, jobFiles, jobId, jobState } from "../slurm/slurm.ts";
import { waitForJob } from "../slurm/watch.ts";
import { note, progress, result } from "./output.ts";
import { resolveSite, type SiteFlags, withSiteOptions } from "./remote.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

const JOB_ARG = "Slurm job id, or the project's job id (from 'sealbatch job list')";
const PROJECT_HELP = "project of a job id (default: the nearest one with jobs, from here upward)";

/**
 * A Slurm id or a project job id; a project job brings its site along, so
 * --site is only needed for jobs that `sealbatch run` did not submit.
 */
async function resolveJob(
  ref: string,
  opts: SiteFlags & { project?: string },
): Promise<{ id: string; flags: SiteFlags }> {
  const { findStateDir, slurmRef } = await import("../run/project.ts");
  const r = await slurmRef(await findStateDir(opts.project), ref);
  const site = r.entry?.plan?.site;
  const flags = !opts.site && !opts.host && site ? { ...opts, site } : opts;
  return { id: jobId(r.slurmJob), flags };
}

export function jobSubmitCommand() {
  return withSiteOptions(
    new Command("submit")
      .description(
        "upload a sealed job directory (run.sh, run.sh.sig and the job's files, each verified by\n" +
          "size and SHA-256 on the remote side) and submit run.sh with sbatch --exclusive",
      )
      .argument("<dir>", "job directory from 'sealbatch job seal --out DIR'")
      .option("--name <name>", "remote job directory name (default: DIR's name)")
      .option(
        "--image-key <file>",
        "the image's private key: check it opens each *.sif before upload",
      )
      .addHelpText(
        "after",
        "\nExamples:\n  sealbatch job submit ./job1 --site mysite\n" +
          "  sealbatch job submit ./job1 --host login.hpc.example.org --identity ~/.ssh/id_ed25519 \\\n" +
          "    --remote-dir /scratch/alice/sealbatch --partition secure",
      ),
  ).action(async (dir, opts) => {
    const { site: settings, slurm } = await resolveSite(opts as SiteFlags);
    const { RemoteSite } = await import("../remote/connection.ts");
    const { submitJob } = await import("../slurm/submit_job.ts");
    await using site = await RemoteSite.connect(settings);
    const bar = progress("uploading");
    const out = await submitJob(site, slurm, {
      dir,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.imageKey ? { imageKey: opts.imageKey } : {}),
      onProgress: (p) => bar.update(p.done, p.total),
    });
    bar.done();
    result(out.jobId, out);
  });
}

export function jobStatusCommand() {
  return withSiteOptions(
    new Command("status")
      .description("print a job's Slurm state (squeue, then sacct)")
      .argument("<job>", JOB_ARG)
      .option("--project <dir>", PROJECT_HELP)
      .addHelpText(
        "after",
        "\nExamples:\n  sealbatch job status 1234 --site mysite\n  sealbatch job status bart-fft-1a2b3c4d    # a job of this project: its site is known\n  sealbatch job status 1234 --site mysite --json   # state, reason, exit code",
      ),
  ).action(async (ref, opts) => {
    const { id, flags } = await resolveJob(ref, opts as SiteFlags);
    const { site: settings, slurm } = await resolveSite(flags);
    const { RemoteSite } = await import("../remote/connection.ts");
    await using site = await RemoteSite.connect(settings);
    const s = await jobState(sshShell(site.login), slurm, id);
    if (!s) throw new SealbatchError("job", `job ${id} is unknown to squeue and sacct`);
    result(`${id} ${s.state}${s.reason ? ` (${s.reason})` : ""}`, s);
  });
}

export function jobWaitCommand() {
  return withSiteOptions(
    new Command("wait")
      .description(
        "wait until a job ends (any terminal state, polling with backoff); exits 0 only for\n" +
          "COMPLETED, otherwise with a code that tells how it ended",
      )
      .argument("<job>", JOB_ARG)
      .option("--project <dir>", PROJECT_HELP)
      .option("--timeout <duration>", "give up after this long (e.g. 2h)")
      .option("--interval <duration>", "longest pause between polls", "30s")
      .addHelpText(
        "after",
        `
Exit status:
  0 COMPLETED   8 FAILED   11 TIMEOUT (or DEADLINE)   12 CANCELLED
  13 NODE_FAIL (or BOOT_FAIL)   14 OUT_OF_MEMORY   15 other end states (PREEMPTED, ...)
  6 Slurm cannot be asked   16 --timeout passed   130 Ctrl-C (the job keeps running)

Examples:
  sealbatch job wait 1234 --site mysite
  sealbatch job wait 1234 --site mysite --timeout 6h
  sealbatch job wait bart-fft-1a2b3c4d
  sealbatch job wait 1234 --site mysite --json   # state, outcome and exit code as JSON`,
      ),
  ).action(async (ref, opts) => {
    const { id, flags } = await resolveJob(ref, opts as SiteFlags);
    const { site: settings, slurm } = await resolveSite(flags);
    const timeoutMs = opts.timeout ? parseDuration(opts.timeout, "--timeout") : undefined;
    const maxIntervalMs = parseDuration(opts.interval, "--interval");
    const { RemoteSite } = await import("../remote/connection.ts");
    await using site = await RemoteSite.connect(settings);
    const r = await waitForJob(sshShell(site.login), slurm, id, {
      maxIntervalMs,
      ...(timeoutMs ? { timeoutMs } : {}),
      onState: (s) => note(`job ${id}: ${s.state}${s.reason ? ` (${s.reason})` : ""}`),
    });
    result(`${id} ${r.state}`, r);
    if (r.outcome !== "completed") throw new JobEndedError(r);
  });
}

export function jobCancelCommand() {
  return withSiteOptions(
    new Command("cancel")
      .description("cancel a job (scancel)")
      .argument("<job>", JOB_ARG)
      .option("--project <dir>", PROJECT_HELP)
      .addHelpText(
        "after",
        "\nExamples:\n  sealbatch job cancel 1234 --site mysite\n  sealbatch job cancel bart-fft-1a2b3c4d",
      ),
  ).action(async (ref, opts) => {
    const { id, flags } = await resolveJob(ref, opts as SiteFlags);
    const { site: settings, slurm } = await resolveSite(flags);
    const { RemoteSite } = await import("../remote/connection.ts");
    await using site = await RemoteSite.connect(settings);
    await cancel(sshShell(site.login), slurm, id);
    result(`cancelled ${id}`, { id, cancelled: true });
  });
}

export function jobFetchCommand() {
  return withSiteOptions(
    new Command("fetch")
      .description(
        "download a job's Slurm output file and the files under its output/ directory (verified\n" +
          "by size and SHA-256; an interrupted download continues where it stopped)",
      )
      .argument("<job>", JOB_ARG)
      .option("--project <dir>", PROJECT_HELP)
      .requiredOption("--out <dir>", "local directory for the files")
      .option(
        "--file <name>",
        "also fetch this file of the job directory (repeat)",
        collect,
        [] as string[],
      )
      .addHelpText(
        "after",
        "\nExamples:\n  sealbatch job fetch 1234 --out ./results --site mysite\n  sealbatch job fetch 1234 --out ./results --file output.results.img --site mysite",
      ),
  ).action(async (ref, opts) => {
    const extra = opts.file.map((f) => {
      f.split("/").forEach((p) => remoteName(p));
      return f;
    });
    const { id, flags } = await resolveJob(ref, opts as SiteFlags);
    const { site: settings, slurm } = await resolveSite(flags);
    const { RemoteSite } = await import("../remote/connection.ts");
    const { Transfers } = await import("../remote/transfer.ts");
    await using site = await RemoteSite.connect(settings);
    const shell = sshShell(site.login);
    let workDir: string;
    let stdout: string;
    try {
      const files = await jobFiles(shell, slurm, id);
      workDir = files.workDir;
      stdout = files.stdout;
    } catch {
      // Purged from slurmctld: find the job directory by its output file name.
      const base = joinRemote(remotePath(settings.remoteDir), "jobs");
      const r = await site.login.exec(
        `ls -1d -- ${sh(base)}/*/slurm-${id}.out 2>/dev/null | head -n 1`,
      );
      stdout = r.stdout.trim();
      if (!stdout) {
        throw new SealbatchError(
          "job",
          `cannot find job ${id}: Slurm no longer knows it and no ${
            q(`slurm-${id}.out`)
          } is under ${q(base)}`,
        );
      }
      workDir = stdout.slice(0, stdout.lastIndexOf("/"));
    }
    const outDir = joinRemote(remotePath(workDir), "output");
    const listing = await site.transfer.exec(
      `[ -d ${sh(outDir)} ] && cd -- ${sh(outDir)} && find . -type f -printf '%P\\n'`,
    );
    const outputs = listing.code === 0
      ? listing.stdout.split("\n").filter((l) => l !== "").map((l) => `output/${l}`)
      : [];
    const wanted = [...outputs, ...extra];
    await using transfers = await Transfers.open(site);
    const fetched = [];
    const bar = progress("downloading");
    const onProgress = (p: { done: number; total: number }) => bar.update(p.done, p.total);
    fetched.push(
      await transfers.download(
        remotePath(stdout),
        `${opts.out}/${stdout.slice(stdout.lastIndexOf("/") + 1)}`,
        { onProgress },
      ),
    );
    for (const rel of wanted) {
      rel.split("/").forEach((p) => remoteName(p));
      fetched.push(
        await transfers.download(joinRemote(workDir, rel), `${opts.out}/${rel}`, { onProgress }),
      );
    }
    bar.done();
    result(fetched.map((f) => f.path).join("\n"), { id, files: fetched });
  });
}
