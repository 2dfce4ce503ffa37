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
