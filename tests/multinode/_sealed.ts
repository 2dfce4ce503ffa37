/**
 * `sealbatch run` of a job of several nodes on the multi-node test cluster, submitted held
 * (sbatch --hold) so that a test can act on the site (as its shared file system's admin, or as
 * whoever got hold of a credential) before the job starts, and then release it.
 */
import { jobIdOf, makeProject, type Project, remote, runIn } from "../run/_fixture.ts";
import type { CliResult } from "../_helpers/cli.ts";
import { CLUSTER_NODES } from "./_cluster.ts";
import { parseReceipt } from "../../src/job/receipt.ts";

/** Each task leaves a mark on the shared side: a job whose command ran on a node shows it. */
export const MARKING_COMMAND = 'touch "$HOME/ran-$SLURM_JOB_ID-$SLURM_NODEID"; ' +
  "cp {input}/shepp_logan.hdr {output}/";

export function sealedProject(
  opts: { nodes?: number; held?: boolean; command?: string; extra?: string } = {},
): Promise<Project> {
  const nodes = opts.nodes ?? CLUSTER_NODES;
  return makeProject({
    nodes: CLUSTER_NODES,
    command: opts.command ?? MARKING_COMMAND,
    specExtra: `  nodes: ${nodes}\n` +
      (opts.held ? '  extra_args: ["--hold"]\n' : "") + (opts.extra ?? ""),
  });
}

/** The job's directory on the shared side. */
export const remoteJobDir = (p: Project, job: string) => `${p.site.SITE_REMOTE_DIR}/jobs/${job}`;

/** The job's Slurm log, as the shared side holds it. */
export const slurmLog = (p: Project, job: string) =>
  remote(p.site, `cat ${remoteJobDir(p, job)}/slurm-*.out`);

/** The Slurm id of a job Slurm still has (-a: the secure partition is hidden). */
export async function liveSlurmId(p: Project, job: string): Promise<string> {
  const id = (await remote(p.site, `squeue -a -h -n ${job} -o %i`)).trim();
  if (!/^\d+$/.test(id)) throw new Error(`no Slurm job for ${job}: ${id}`);
  return id;
}

/** A finished `run`: its job, the job's directory, Slurm id and the receipt there. */
export async function finishedRun(p: Project, stderr: string) {
  const job = jobIdOf(stderr);
  const dir = remoteJobDir(p, job);
  const id = /slurm-(\d+)\.out/.exec(await remote(p.site, `ls ${dir}`))?.[1];
  if (id === undefined) throw new Error(`no Slurm log in ${dir}`);
  const receipt = parseReceipt(
    new TextEncoder().encode(await remote(p.site, `cat ${dir}/receipt.json`)),
  );
  return { job, dir, id, receipt };
}

export interface HeldRun extends CliResult {
  job: string;
  slurmId: string;
}

/** Run the project's job held; `whileHeld` runs once Slurm has it, then the job is released. */
export async function runHeld(
  p: Project,
  whileHeld: (slurmId: string, job: string) => Promise<void>,
): Promise<HeldRun> {
  let job = "";
  let slurmId = "";
  let acting: Promise<void> | undefined;
  let failed: unknown;
  const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"], (line) => {
    job ||= /^job (\S+) on /.exec(line)?.[1] ?? "";
    if (acting === undefined && /^wait +Slurm: PENDING/.test(line)) {
      acting = (async () => {
        slurmId = await liveSlurmId(p, job);
        try {
          await whileHeld(slurmId, job);
        } finally {
          await remote(p.site, `scontrol release ${slurmId}`);
        }
      })().catch(async (err) => {
        failed = err;
        // The run waits for the job: cancelled, it ends.
        await remote(p.site, `scancel -n ${job}`).catch(() => {});
      });
    }
  });
  if (acting === undefined) throw new Error(`the job never was pending:\n${r.stderr}`);
  await acting;
  if (failed !== undefined) throw failed;
  return { ...r, job: job || jobIdOf(r.stderr), slurmId };
}

/** The exit code Slurm recorded for job `id` (scontrol keeps finished jobs for MinJobAge). */
export async function slurmExitCode(p: Project, id: string): Promise<string> {
  const line = await remote(p.site, `scontrol show job -o ${id}`);
  return /(?:^|\s)ExitCode=(\d+:\d+)/.exec(line)?.[1] ?? `none in: ${line}`;
}

/** Nodes whose command ran for Slurm job `id` (the marks MARKING_COMMAND leaves). */
export async function nodesThatRan(p: Project, id: string): Promise<string[]> {
  const out = await remote(p.site, `cd && ls ran-${id}-* 2>/dev/null; true`);
  return out.split("\n").filter((l) => l !== "").sort();
}
