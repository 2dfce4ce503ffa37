/** `sealbatch job ...`: seal, submit and follow one job. */
import { Command } from "@commander-js/extra-typings";
import { jobSealCommand } from "./job_seal.ts";
import { jobListCommand, jobShowCommand } from "./job_list.ts";
import { jobCleanCommand } from "./job_clean.ts";
import {
  jobCancelCommand,
  jobFetchCommand,
  jobStatusCommand,
  jobSubmitCommand,
  jobWaitCommand,
} from "./job_remote.ts";

export function jobCommand(): Command {
  return new Command("job").description("seal, submit and follow a job")
    .addHelpText(
      "after",
      `
Every job command takes the project's job id or the Slurm id.

Examples:
  sealbatch job list
  sealbatch job show bart-fft-1a2b3c4d
  sealbatch job wait bart-fft-1a2b3c4d
  sealbatch job clean --all-finished`,
    )
    .addCommand(jobSealCommand())
    .addCommand(jobSubmitCommand())
    .addCommand(jobStatusCommand())
    .addCommand(jobWaitCommand())
    .addCommand(jobCancelCommand())
    .addCommand(jobFetchCommand())
    .addCommand(jobListCommand())
    .addCommand(jobShowCommand())
    .addCommand(jobCleanCommand());
}
