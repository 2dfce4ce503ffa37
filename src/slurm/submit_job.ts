/**
 * The `job submit` step: check every file (key material, images must be
 * encrypted), upload the job directory verified, then sbatch its run.sh into
 * the secure partition.
 */
import { basename, relative } from "node:path";
import { inputError, q } from "../util/errors.ts";
import { guardImageUpload } from "../image/guard.ts";
import type { RemoteSite } from "../remote/connection.ts";
import { joinRemote, remoteName, remotePath } from "../remote/quote.ts";
import {
  refuseKeyName,
  type TransferProgress,
  type TransferResult,
  Transfers,
} from "../remote/transfer.ts";
import { sshShell } from "./shell.ts";
import { type SlurmSettings, submit } from "./slurm.ts";

export interface SubmitJobInput {
  /** Local job directory holding run.sh and run.sh.sig (from `job seal`) and the job's files. */
  dir: string;
  /** Remote job directory name under `<remoteDir>/jobs/` (default: the local directory's name). */
  name?: string;
  /** The image's private key, to check that it opens the image before upload. */
  imageKey?: string;
  allowUnencryptedImage?: boolean;
  onProgress?: (p: TransferProgress) => void;
}

export interface SubmitJobResult {
  jobId: string;
  remoteDir: string;
  uploads: TransferResult[];
}

/** Regular files below `dir`, relative, skipping dot files (partial transfers, editor files). */
async function jobFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.name.startsWith(".")) continue;
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.isFile) out.push(relative(dir, path));
      else {throw inputError(
          `cannot submit ${q(dir)}: ${q(path)} is not a regular file or directory`,
        );}
    }
  };
  await walk(dir);
  return out.sort();
}

export async function submitJob(
  site: RemoteSite,
  slurm: SlurmSettings,
  input: SubmitJobInput,
): Promise<SubmitJobResult> {
  const dir = input.dir.replace(/\/+$/, "");
  let files: string[];
  try {
    files = await jobFiles(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw inputError(`cannot submit ${q(dir)}: no such directory`);
    }
    throw err;
  }
  for (const needed of ["run.sh", "run.sh.sig"]) {
    if (!files.includes(needed)) {
      throw inputError(`cannot submit ${q(dir)}: ${needed} is missing`, {
        hint: "create it with 'sealbatch job seal --out DIR'",
      });
    }
  }
  // Every refusal before the first byte leaves this machine.
  const name = remoteName(input.name ?? basename(dir), "job directory name");
  for (const f of files) {
    refuseKeyName(f);
    f.split("/").forEach((part) => remoteName(part));
    if (f.endsWith(".sif")) {
      await guardImageUpload(`${dir}/${f}`, {
        ...(input.imageKey ? { privateKey: input.imageKey } : {}),
        ...(input.allowUnencryptedImage ? { allowUnencrypted: true } : {}),
      });
    }
  }
  const remoteDir = joinRemote(remotePath(site.settings.remoteDir), "jobs", name);
  await using transfers = await Transfers.open(site);
  // run.sh last: a job directory with a run.sh is complete.
  const order = [...files.filter((f) => !f.startsWith("run.sh")), "run.sh.sig", "run.sh"];
  const uploads = await transfers.uploadMany(
    order.map((f) => ({
      local: `${dir}/${f}`,
      dir: f.includes("/") ? joinRemote(remoteDir, f.slice(0, f.lastIndexOf("/"))) : remoteDir,
    })),
    input.onProgress ? { onProgress: input.onProgress } : {},
  );
  const jobId = await submit(sshShell(site.login), slurm, joinRemote(remoteDir, "run.sh"), {
    cwd: remoteDir,
    output: joinRemote(remoteDir, "slurm-%j.out"),
    jobName: name,
  });
  return { jobId, remoteDir, uploads };
}
