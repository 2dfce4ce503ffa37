/** `sealbatch node ...`: what runs on the isolated compute node inside a Slurm job. */
import { Command } from "@commander-js/extra-typings";
import { nodeDecryptCommand } from "./node_decrypt.ts";
import { runImageCommand } from "./node_run_image.ts";
import { fetchKeysCommand, wipeKeysCommand } from "./node_fetch_keys.ts";
import { nodeDataCommand } from "./node_data.ts";
import { nodeCheckCommand } from "./node_check.ts";

export function nodeCommand(): Command {
  return new Command("node")
    .description("commands for the secure compute node (run inside the Slurm job)")
    .addHelpText(
      "after",
      `
Examples:
  /usr/bin/decrypt_and_execute <<EOF ... EOF   # in run.sh: node decrypt-and-execute
  sealbatch node fetch-keys --credentials creds.json --out "$SEALBATCH_WORK_DIR/keys"
  sealbatch node data open input.img --key-file k.key --mount-point "$TMPDIR/data"`,
    )
    .addCommand(nodeDecryptCommand())
    .addCommand(runImageCommand())
    .addCommand(fetchKeysCommand())
    .addCommand(wipeKeysCommand())
    .addCommand(nodeDataCommand())
    .addCommand(nodeCheckCommand());
}
