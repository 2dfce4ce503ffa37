/**
 * `sealbatch node data open|close`: the job script's data container on the
 * node. Prints modes and container paths only, never names or contents of
 * the decrypted files (the Slurm log sits on the shared file system).
 */
import { Command, Option } from "@commander-js/extra-typings";
import { usageError } from "../util/errors.ts";
import { parseSize } from "../luks/size.ts";
import { atStage } from "./node_stage.ts";
import { result } from "./output.ts";

const CONFIG_HELP = "node config (default $SEALBATCH_NODE_CONFIG or /etc/sealbatch/node.yaml)";

/**
 * Inside a job, decrypt-and-execute hands the script a private directory
 * ($SEALBATCH_WORK_DIR) on the node's work storage; the job user cannot create
 * directories beside it in the root-owned work_dir, so that one is used.
 */
async function workBase(config: string | undefined): Promise<{ workBase?: string }> {
  let dir = Deno.env.get("SEALBATCH_WORK_DIR") || undefined;
  if (dir === undefined) {
    const { loadNodeConfig } = await import("../node/config.ts");
    dir = (await loadNodeConfig(config)).workDir;
  }
  return dir === undefined ? {} : { workBase: dir };
}

function openCommand() {
  return new Command("open")
    .description("open a data container at a mount point for the job")
    .argument("<container>", "LUKS2 container (NAME.img)")
    .requiredOption("--key-file <file>", "key file (mode 0600, node-local private storage)")
    .requiredOption("--mount-point <dir>", "where the job sees the data (missing or empty)")
    .option("--create", "start empty: no container is read (privileged: a new one is made)")
    .option("--size <auto|MiB>", "with --create, privileged: file system size of the new container")
    .addOption(
      new Option("--mode <mode>", "privileged: root + device-mapper; rootless: private memory copy")
        .choices(["auto", "privileged", "rootless"] as const).default("auto" as const),
    )
    .option("--config <file>", CONFIG_HELP)
    .addHelpText(
      "after",
      `
Examples:
  sealbatch node data open input.img --key-file "$KEYDIR/input.key" --mount-point "$TMPDIR/data"
  sealbatch node data open input.img --key-file k.key --mount-point /mnt/job --mode privileged
  sealbatch node data open output.img --create --key-file k.key --mount-point "$TMPDIR/out"

privileged: cryptsetup open + mount -o nodev,nosuid,noexec; the job writes into
the container itself. rootless: the data is extracted into a private
memory-backed directory (node config work_dir, else $XDG_RUNTIME_DIR) and the
mount point becomes a symlink to it; 'close' seals it back.
--create: the job starts with an empty directory and CONTAINER must not exist;
privileged, a new container of --size MiB (default 2) is made
there under the key; rootless, nothing is made until 'close' seals the results.`,
    )
    .action(async (container, opts) => {
      if (opts.size !== undefined && !opts.create) throw usageError("--size needs --create");
      const size = opts.size === undefined ? "auto" : parseSize(opts.size);
      const { nodeDataOpen } = await import("../node/data.ts");
      const base = await workBase(opts.config);
      const res = await atStage(opts.create ? "open-output" : "open-input", () =>
        nodeDataOpen({
          image: container,
          keyPath: opts.keyFile,
          mountPoint: opts.mountPoint,
          mode: opts.mode,
          ...(opts.create ? { create: { size } } : {}),
          ...base,
        }));
      result(`data container open at ${opts.mountPoint} (${res.mode})`, {
        mountPoint: opts.mountPoint,
        mode: res.mode,
      });
    });
}

function closeCommand() {
  return new Command("close")
    .description("close a data container opened with 'node data open' and keep the results")
    .requiredOption("--mount-point <dir>", "the mount point given to 'node data open'")
    .option("--key-file <file>", "key for the results container (default: the key used at open)")
    .option(
      "--seal-to <file>",
      "results container (rootless: sealed there, default NAME.results.img next to NAME.img; " +
        "privileged: the closed container is renamed to it)",
    )
    .option("--discard", "rootless: wipe the data without sealing results")
    .option("--config <file>", CONFIG_HELP)
    .addHelpText(
      "after",
      `
Examples:
  sealbatch node data close --mount-point "$TMPDIR/data"
  sealbatch node data close --mount-point "$TMPDIR/data" --seal-to out/results.img
  sealbatch node data close --mount-point "$TMPDIR/data" --discard

privileged: unmount and close the mapping; the results are in the container
(renamed to --seal-to when given).
rootless: seal the directory's final state into a new LUKS2 container with the
same key (the client opens it with 'sealbatch data open'), then wipe it.`,
    )
    .action(async (opts) => {
      if (opts.discard && (opts.sealTo !== undefined || opts.keyFile !== undefined)) {
        throw usageError("--discard cannot be combined with --seal-to or --key-file");
      }
      const { nodeDataClose } = await import("../node/data.ts");
      const base = await workBase(opts.config);
      const res = await atStage(opts.discard ? "close-input" : "seal-results", () =>
        nodeDataClose({
          mountPoint: opts.mountPoint,
          discard: Boolean(opts.discard),
          ...(opts.keyFile !== undefined ? { keyPath: opts.keyFile } : {}),
          ...(opts.sealTo !== undefined ? { sealTo: opts.sealTo } : {}),
          ...base,
        }));
      const where = res.results === undefined
        ? (res.mode === "privileged" ? "results are in the container" : "data discarded")
        : `results: ${res.results}`;
      result(`data container closed (${res.mode}); ${where}`, res);
    });
}

export function nodeDataCommand() {
  return new Command("data")
    .description("open and close the job's data container on the node")
    .addHelpText(
      "after",
      `
Examples:
  sealbatch node data open input.img --key-file k.key --mount-point "$TMPDIR/data"
  sealbatch node data close --mount-point "$TMPDIR/data"`,
    )
    .addCommand(openCommand())
    .addCommand(closeCommand());
}
