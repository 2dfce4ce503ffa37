/** `sealbatch node check`: the node admin's self-test of what decrypt_and_execute relies on. */
import { Command } from "@commander-js/extra-typings";
import { checkText, result } from "./output.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function nodeCheckCommand(): Command {
  return new Command("check")
    .description(
      "check this node's setup: config, node key, signers, work dir, wrapper, sudo, Vault",
    )
    .option(
      "--config <FILE>",
      "node config (default $SEALBATCH_NODE_CONFIG or /etc/sealbatch/node.yaml)",
    )
    .option("--wrapper <PATH>", "the wrapper run.sh calls", "/usr/bin/decrypt_and_execute")
    .option(
      "--user <NAME>",
      "check the sudo rule for this account (repeatable; default: every signer)",
      collect,
      [] as string[],
    )
    .addHelpText(
      "after",
      `
Run it on each secure node as root after installing or changing it (docs/admin.md): one line per
check, with what to do when one fails; exit code 3 when any fails. Read-only: it creates nothing
and runs no job. Without root the ownership and sudo checks are skipped.

Examples:
  sudo sealbatch node check
  sudo sealbatch node check --config /etc/sealbatch/node.yaml --user alice
  sealbatch --json node check | jq '.checks[] | select(.ok == false)'`,
    )
    .action(async (o) => {
      const { checkNode } = await import("../node/check.ts");
      const report = await checkNode({
        ...(o.config !== undefined ? { configFile: o.config } : {}),
        wrapper: o.wrapper,
        ...(o.user.length > 0 ? { users: o.user } : {}),
      });
      const { checksFailed } = await import("../remote/check.ts");
      result(checkText(report.checks), {
        ok: report.checks.every((c) => c.ok),
        config: report.config.file ?? null,
        checks: report.checks,
      });
      const failed = checksFailed(report.checks, "node check");
      if (failed) throw failed;
    });
}
