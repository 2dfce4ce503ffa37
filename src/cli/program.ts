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
import { uiCommand } from "./ui.ts";

export const VERSION: string = denoJson.version;

export function buildProgram(): Command {
  const program = new Command("sealbatch")
    .description(
      "Run jobs on sensitive data on a shared HPC system that nobody there has to trust.\n\n" +
        "Seals data (LUKS2), software (encrypted Apptainer images) and the batch script " +
        "(OpenPGP), escrows keys in Vault behind single-use credentials, and runs the node " +
        "side of the job.",
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
  // Listed in the order a newcomer needs them: the whole workflow first, then its steps.
  for (
    const command of [
      runCommand(),
      demoCommand(),
      uiCommand(),
      keygenCommand(),
      siteCommand(),
      dataCommand(),
      imageCommand(),
      keysCommand(),
      jobCommand(),
      remoteCommand(),
      nodeCommand(),
      kmsCommand(),
      viewCommand(),
      sampleCommand(),
    ]
  ) program.addCommand(command);
  tidyHelp(program);
  return program;
}

/**
 * Descriptions are written with line breaks for the source; help output wraps
 * them itself, so single breaks become spaces (blank lines stay paragraphs),
 * and command lists show a command's summary when it has one.
 */
function tidyHelp(command: Command<unknown[], Record<string, unknown>, Record<string, unknown>>) {
  const flow = (text: string) => text.replace(/([^\n])\n(?!\n)\s*/g, "$1 ");
  command.configureHelp({
    minWidthToWrap: 30,
    commandDescription: (c) => flow(c.description()),
    subcommandDescription: (c) => flow(c.summary() || c.description()),
  });
  for (const sub of command.commands) tidyHelp(sub);
}
