/**
 * The running Slurm job as Slurm records it: owner and batch script path
 * (`scontrol show job -o`). Used instead of anything the caller claims.
 */
import { exec } from "../util/exec.ts";
import { q, refusal } from "../util/errors.ts";

export interface SlurmJob {
  id: string;
  user: string;
  uid: number;
  /** Path of the submitted batch script (run.sh). */
  command: string;
  /** The allocation's nodes as Slurm writes them (`sb[0-2]`); empty while pending. */
  nodeList: string;
}

export function parseScontrolJob(id: string, line: string): SlurmJob {
  const owner = /(?:^|\s)UserId=([^\s(]+)\((\d+)\)/.exec(line);
  // Command may contain spaces; with -o it is followed by " WorkDir=".
  const command = /(?:^|\s)Command=(.*?)\s+WorkDir=/.exec(line) ??
    /(?:^|\s)Command=(\S+)/.exec(line);
  if (!owner || !command || !command[1]?.startsWith("/")) {
    throw refusal(`cannot tell owner and batch script of Slurm job ${q(id)} from scontrol`);
  }
  const nodeList = /(?:^|\s)NodeList=(\S+)/.exec(line)?.[1] ?? "";
  return {
    id,
    user: owner[1]!,
    uid: Number(owner[2]),
    command: command[1],
    nodeList: nodeList === "(null)" ? "" : nodeList,
  };
}

export async function currentSlurmJob(id: string): Promise<SlurmJob> {
  if (!/^\d+(_\d+)?$/.test(id)) throw refusal(`invalid SLURM_JOB_ID ${q(id)}`);
  const out = await exec("scontrol", ["show", "job", "-o", id], {
    what: `looking up Slurm job ${q(id)}`,
    requireOutput: true,
  });
  return parseScontrolJob(id, out.text.trim());
}

/**
 * The batch script exactly as Slurm stored it at submission: what bash runs.
 * The copy on shared storage may have been swapped by someone who controls
 * that storage after sbatch read it, so signatures are checked against this.
 */
export async function slurmBatchScript(id: string, max: number): Promise<Uint8Array> {
  const out = await exec("scontrol", ["write", "batch_script", id, "-"], {
    what: `reading the batch script of Slurm job ${q(id)}`,
    requireOutput: true,
  });
  if (out.stdout.length > max) {
    throw refusal(`the batch script of Slurm job ${q(id)} is larger than ${max} bytes`);
  }
  return out.stdout;
}

const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/**
 * The allocation's node names in Slurm's order: node I of the job
 * (SLURM_NODEID) is the I-th name.
 */
export async function jobHosts(job: SlurmJob): Promise<string[]> {
  if (job.nodeList === "") throw refusal(`Slurm job ${q(job.id)} has no nodes allocated`);
  const out = await exec("scontrol", ["show", "hostnames", job.nodeList], {
    what: `listing the nodes of Slurm job ${q(job.id)}`,
    requireOutput: true,
  });
  const hosts = out.text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (hosts.length === 0 || hosts.some((h) => !HOST_RE.test(h))) {
    throw refusal(`cannot tell the nodes of Slurm job ${q(job.id)} from scontrol`);
  }
  return hosts;
}
