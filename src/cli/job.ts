/** `sealbatch job ...`: seal, submit and follow one job. */
import { Command } from "@commander-js/extra-typings";

export function jobCommand(): Command {
  return new Command("job").description("seal, submit and follow a job");
}
