/**
 * sealbatch entry point: builds the command tree, runs it, and maps every
 * failure to one `sealbatch: error:` line and a fixed exit code.
 */
import { CommanderError } from "commander";
import { buildProgram } from "./src/cli/program.ts";
import { formatError } from "./src/cli/output.ts";
import { EXIT_CODES, reason, SealbatchError } from "./src/util/errors.ts";

function debugEnabled(): boolean {
  try {
    return (Deno.env.get("SEALBATCH_DEBUG") ?? "") !== "";
  } catch {
    return false;
  }
}

/** Turn anything thrown into the user-facing error type. */
export function toUserError(err: unknown): SealbatchError {
  if (err instanceof SealbatchError) return err;
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return new SealbatchError(
      "permission",
      `permission denied: ${reason(err).replace(/, run again with.*$/, "")}`,
      {
        hint: "sealbatch runs with a fixed permission list; this path or program is outside it",
      },
    );
  }
  return new SealbatchError("internal", `unexpected failure: ${reason(err)}`, {
    hint: "this is a bug in sealbatch; rerun with SEALBATCH_DEBUG=1 for details",
  });
}

export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({
    outputError: (text, write) =>
      write(`sealbatch: ${text.trim()}\nhint: see 'sealbatch --help'\n`),
  });
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

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
