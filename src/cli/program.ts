/**
 * The command tree. Each command group lives in its own file under src/cli/
 * and only parses, calls a step and prints.
 */
import { Command } from "@commander-js/extra-typings";
import denoJson from "../../deno.json" with { type: "json" };
import { setJsonMode } from "./output.ts";
import { jobCommand } from "./job.ts";
import { nodeCommand } from "./node.ts";
import { keygenCommand } from "./keygen.ts";
import { siteCommand } from "./site.ts";
import { viewCommand } from "./view.ts";
import { sampleCommand } from "./sample.ts";
import { imageCommand } from "./image.ts";
import { keysCommand } from "./keys.ts";
import { kmsCommand } from "./kms.ts";
import { dataCommand } from "./data.ts";
import { remoteCommand } from "./remote.ts";
import { runCommand } from "./run.ts";
import { demoCommand } from "./demo.ts";

export const VERSION: string = denoJson.version;

export function buildProgram(): Command {
  const program = new Command("sealbatch")
    .description(
      "Run jobs on sensitive data on a shared HPC system that nobody there has to trust.\n" +
        "Seals data (LUKS2), software (encrypted Apptainer images) and the batch script (OpenPGP),\n" +
        "escrows keys in Vault behind single-use credentials, and runs the node side of the job.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .option("--json", "print results as JSON on stdout")
    .showSuggestionAfterError(true)
    .hook("preAction", (cmd) => {
      setJsonMode(Boolean(cmd.opts().json));
    })
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch --help\n  sealbatch <command> --help\n\nExit codes: see README.md (2 usage, 3 input, 4 refused, 5 credential used elsewhere, ...).",
    );
  program.addCommand(keygenCommand());
  program.addCommand(jobCommand());
  program.addCommand(nodeCommand());
  program.addCommand(siteCommand());
  program.addCommand(viewCommand());
  program.addCommand(sampleCommand());
  program.addCommand(imageCommand());
  program.addCommand(keysCommand());
  program.addCommand(kmsCommand());
  program.addCommand(dataCommand());
  program.addCommand(remoteCommand());
  program.addCommand(runCommand());
  program.addCommand(demoCommand());
  return program;
}
