/** `sealbatch node ...`: what runs on the isolated compute node inside a Slurm job. */
import { Command } from "@commander-js/extra-typings";

export function nodeCommand(): Command {
  return new Command("node")
    .description("commands for the secure compute node (run inside the Slurm job)");
}
