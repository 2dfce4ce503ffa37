/** `sealbatch node decrypt-and-execute`: what /usr/bin/decrypt_and_execute runs inside the job. */
import { Command } from "@commander-js/extra-typings";
import { refusal } from "../util/errors.ts";
import { ARMOR_LIMITS } from "../pgp/armor.ts";
import { passphraseSource } from "./passphrase.ts";
import { note } from "./output.ts";

/** The here-document on stdin, bounded; undefined when stdin is a terminal. */
async function readStdin(): Promise<Uint8Array | undefined> {
  if (Deno.stdin.isTerminal()) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Deno.stdin.readable) {
    size += chunk.length;
    if (size > ARMOR_LIMITS.message) {
      throw refusal(`the message on stdin is larger than ${ARMOR_LIMITS.message} bytes`);
    }
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

export function nodeDecryptCommand() {
  return new Command("decrypt-and-execute")
    .description(
      "verify, decrypt and run a sealed job (also runs when invoked as decrypt_and_execute):\n" +
        "checks run.sh against run.sh.sig with the job user's registered key, checks that the\n" +
        "message on stdin is the signed one, decrypts with the node key, checks the manifest\n" +
        "(account, expiry, nonce, input hashes), runs the script with bash as the job user",
    )
    .option(
      "--config <file>",
      "node config (default $SEALBATCH_NODE_CONFIG or /etc/sealbatch/node.yaml)",
    )
    .option("--node-key <file>", "the node's secret key (overrides node_key)")
    .option("--signers <dir>", "directory of USER.asc public keys (overrides signers_dir)")
    .option("--state <dir>", "directory for seen nonces (overrides state_dir)")
    .option("--script <file>", "outside Slurm: the batch script (run.sh)")
    .option("--signature <file>", "outside Slurm: its signature (default SCRIPT.sig)")
    .option("--user <account>", "outside Slurm: the job's account (default: the caller)")
    .option(
      "--node-part",
      "one node's part of a job of several nodes (the node side starts it through srun)",
    )
    .addHelpText(
      "after",
      `
Inside Slurm the job (owner, batch script) comes from 'scontrol show job $SLURM_JOB_ID';
run.sh.sig must lie beside run.sh. A job sealed for several nodes runs on every node of
its allocation: this command, on the first node, starts '--node-part' on all of them
through srun (each verifies, decrypts and fetches its own keys), and starts the command
once every node is ready. The command exits with the script's exit status;
refusals exit 4 before anything is decrypted or run where the order allows.

Examples:
  # in run.sh, via the wrapper /usr/bin/decrypt_and_execute:
  /usr/bin/decrypt_and_execute <<EOF ... EOF
  # by hand, outside Slurm:
  sealbatch node decrypt-and-execute --script job1/run.sh --signers signers \\
    --node-key node01.sec.asc --state state </dev/null`,
    )
    .action(async (opts) => {
      const { decryptAndExecute } = await import("../node/decrypt_and_execute.ts");
      const stdout = (line: string) => {
        const bytes = new TextEncoder().encode(line);
        for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
      };
      const out = await decryptAndExecute({
        ...(opts.config !== undefined ? { configFile: opts.config } : {}),
        ...(opts.nodeKey !== undefined ? { nodeKey: opts.nodeKey } : {}),
        ...(opts.signers !== undefined ? { signersDir: opts.signers } : {}),
        ...(opts.state !== undefined ? { stateDir: opts.state } : {}),
        ...(opts.script !== undefined ? { script: opts.script } : {}),
        ...(opts.signature !== undefined ? { signature: opts.signature } : {}),
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        // A part's stdin is the coordinator's channel, read as the job goes.
        ...(opts.nodePart ? { part: { stdin: Deno.stdin.readable, stdout } } : {}),
        stdin: opts.nodePart ? undefined : await readStdin(),
        passphrase: passphraseSource(undefined),
        notify: (line) => note(`sealbatch: ${line}`),
      });
      // The job's exit status is ours; every cleanup has already run.
      if (out.exitCode !== 0 || opts.nodePart) Deno.exit(out.exitCode);
    });
}
