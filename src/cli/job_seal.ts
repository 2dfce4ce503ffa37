/** `sealbatch job seal`: encrypt a command script to the node and sign the batch script. */
import { Command } from "@commander-js/extra-typings";
import { parseDuration } from "../util/duration.ts";
import { localUser } from "../util/user.ts";
import { passphraseSource } from "./passphrase.ts";
import { result } from "./output.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function jobSealCommand() {
  return new Command("seal")
    .description(
      "encrypt a command script to the secure node's key and write DIR/run.sh (the batch\n" +
        "script in the reference format) and DIR/run.sh.sig (your detached signature)",
    )
    .requiredOption("--command <file>", "the bash script to run on the node")
    .requiredOption("--node-key <file>", "the node's public key (NODE.pub.asc)")
    .requiredOption("--sign-key <file>", "your secret key (USER.sec.asc, mode 0600)")
    .requiredOption("--out <dir>", "directory for run.sh and run.sh.sig (created if missing)")
    .option("--user <account>", "HPC account the job runs as (default: local user name)")
    .option("--expires <duration>", "the node refuses the job after this long", "7d")
    .option(
      "--input <file>",
      "a file the job reads; its SHA-256 goes into the manifest (repeat)",
      collect,
      [] as string[],
    )
    .option("--job-id <id>", "job id in the manifest (default: date and random suffix)")
    .option("--passphrase-file <file>", "passphrase of the secret key (first line, mode 0600)")
    .addHelpText(
      "after",
      `
The encrypted payload is your script with a manifest line (job id, random nonce,
expiry, account, input hashes) that the node checks before running anything.

Examples:
  sealbatch job seal --command command.sh --node-key node01.pub.asc --sign-key alice.sec.asc --out job1
  sealbatch job seal --command command.sh --node-key node01.pub.asc --sign-key alice.sec.asc \\
    --out job2 --user u12345 --expires 72h --input job2/data.img`,
    )
    .action(async (opts) => {
      const expiresMs = parseDuration(opts.expires, "--expires");
      const { sealJob } = await import("../job/seal.ts");
      const out = await sealJob({
        command: { file: opts.command },
        nodeKey: opts.nodeKey,
        signKey: opts.signKey,
        passphrase: passphraseSource(opts.passphraseFile),
        outDir: opts.out,
        user: opts.user ?? localUser(),
        expiresMs,
        inputs: opts.input,
        ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
      });
      result(
        [
          `sealed job ${out.manifest.job} for ${out.manifest.user}, valid until ${out.manifest.not_after}`,
          `  ${out.runScript}`,
          `  ${out.signature}`,
        ].join("\n"),
        out,
      );
    });
}
