/**
 * Runs the command tree and maps every failure to one `sealbatch: error:`
 * line and a fixed exit code (the table is in README.md).
 */
import { CommanderError } from "commander";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { buildProgram } from "./program.ts";
import { versionInfo, versionText } from "./version.ts";
import { formatError, oneLine } from "./output.ts";
import { EXIT_CODES, reason, SealbatchError } from "../util/errors.ts";
import { permissionError } from "../util/permissions.ts";

function debugEnabled(): boolean {
  try {
    return (Deno.env.get("SEALBATCH_DEBUG") ?? "") !== "";
  } catch {
    return false;
  }
}

/** Turn anything thrown into the user-facing error type. */
export function toUserError(err: unknown): SealbatchError {
  const denied = permissionError(err);
  if (denied) return denied;
  if (err instanceof SealbatchError) return err;
  return new SealbatchError("internal", `unexpected failure: ${reason(err)}`, {
    hint: "this is a bug in sealbatch; rerun with SEALBATCH_DEBUG=1 for details",
  });
}

export async function main(args: string[]): Promise<number> {
  const program = buildProgram(versionText(await versionInfo()));
  // Commands added with addCommand() do not inherit these settings: apply them to every level.
  const configure = (cmd: CommandUnknownOpts, path: string): void => {
    cmd.exitOverride();
    cmd.configureOutput({
      outputError: (text, write) =>
        write(`sealbatch: ${oneLine(text.trim())}\nhint: see 'sealbatch ${path}--help'\n`),
    });
    for (const sub of cmd.commands) configure(sub, `${path}${sub.name()} `);
  };
  configure(program, "");
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they are successes to us.
      return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    const userError = toUserError(err);
    console.error(formatError(userError));
    if (debugEnabled() && err instanceof Error && err.stack) console.error(err.stack);
    return userError.exitCode;
  }
}
