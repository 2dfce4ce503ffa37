/**
 * The command tree. Each command group lives in its own file under src/cli/
 * and only parses, calls a step and prints.
 */
import { Command, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { q, usageError } from "../util/errors.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { setJsonMode, setOutputModes } from "./output.ts";
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
import { completionCommand, manCommand } from "./completion.ts";
import { uiCommand } from "./ui.ts";

/** `version`: what --version prints (versionText(); the bare version when not given). */
export function buildProgram(version: string = denoJson.version): Command {
  const program = new Command("sealbatch")
    .description(
      "Run jobs on sensitive data on a shared HPC system that nobody there has to trust.\n\n" +
        "Seals data (LUKS2), software (encrypted Apptainer images) and the batch script " +
        "(OpenPGP), escrows keys in Vault behind single-use credentials, and runs the node " +
        "side of the job.",
    )
    .version(
      version,
      "-V, --version",
      "print the version, the build's commit and the Deno it runs on",
    )
    .option("--json", "print results as JSON on stdout")
    .option("-q, --quiet", "print results and errors only (no progress, no notes)")
    .option("-v, --verbose", "print every step, and the causes of an error")
    .addOption(
      new Option(
        "--progress <format>",
        "progress, notes and errors on stderr: text, or json (NDJSON)",
      )
        .choices(["text", "json"] as const).default("text" as const),
    )
    .showSuggestionAfterError(true)
    .hook("preAction", (cmd) => {
      const o = cmd.opts();
      if (o.quiet && o.verbose) throw usageError("-q/--quiet and -v/--verbose exclude each other");
      setJsonMode(Boolean(o.json));
      setOutputModes({
        verbosity: o.quiet ? "quiet" : o.verbose ? "verbose" : "normal",
        progress: o.progress,
      });
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
  program.helpCommand(false).addCommand(helpCommand(program))
    .addCommand(completionCommand(() => program))
    .addCommand(manCommand(() => program, version));
  tidyHelp(program);
  return program;
}

/** `sealbatch help job list`: the help of the command named, however deep. */
function helpCommand(program: Command) {
  return new Command("help")
    .description("show the help of a command, e.g. 'sealbatch help job list'")
    .argument("[command...]", "the command's words")
    .addHelpText("after", "\nExamples:\n  sealbatch help\n  sealbatch help job list")
    .action((words: string[]) => {
      let at: CommandUnknownOpts = program;
      for (const word of words) {
        const next = at.commands.find((c) => c.name() === word || c.aliases().includes(word));
        if (!next) {
          throw usageError(`unknown command ${q([at.name(), word].join(" "))}`, {
            hint: `see 'sealbatch ${
              at === program ? "" : `${commandPath(at)} `
            }--help' for the commands there`,
          });
        }
        at = next;
      }
      at.outputHelp();
    });
}

function commandPath(cmd: CommandUnknownOpts): string {
  const words: string[] = [];
  for (let c: CommandUnknownOpts | null = cmd; c && c.parent; c = c.parent) words.unshift(c.name());
  return words.join(" ");
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
    // --json and friends are the root's: every command's help lists them.
    showGlobalOptions: true,
    commandDescription: (c) => flow(c.description()),
    subcommandDescription: (c) => flow(c.summary() || c.description()),
  });
  for (const sub of command.commands) tidyHelp(sub);
}
