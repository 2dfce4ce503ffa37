/** `sealbatch node fetch-keys` / `node wipe-keys`: the job script gets its keys once, and removes them. */
import { Command } from "@commander-js/extra-typings";
import { atStage } from "./node_stage.ts";
import { note, result } from "./output.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function fetchKeysCommand(): Command {
  return new Command("fetch-keys")
    .description(
      "fetch the job's keys once, with its single-use credentials, into node-local memory",
    )
    .requiredOption(
      "--credentials <FILE>",
      "credentials file written by `sealbatch keys escrow` (0600)",
    )
    .option(
      "--out <DIR>",
      "key directory on tmpfs (created 0700; default: a new one in $XDG_RUNTIME_DIR)",
    )
    .option("--key <NAME>", "fetch only this key (repeatable)", collect, [] as string[])
    .option(
      "--vault-addr <URL>",
      "Vault address (default VAULT_ADDR, then the credentials' address)",
    )
    .option("--ca-cert <PEM>", "CA certificate for Vault's TLS (default VAULT_CACERT)")
    .option("--config <FILE>", "node config (vault_addr, vault_cacert, work_dir)")
    .option(
      "--node-index <I>",
      "this node's index in a multi-node job's allocation (default: $SLURM_NODEID)",
    )
    .addHelpText(
      "after",
      `
Each credential is looked up (its creation path checked) before any is used; an already used or
unknown one stops the job with exit code 5 (possible interception).
Prints the key directory; each key is the file DIR/NAME (mode 0600).
The job script removes the keys when it ends, also on failure:

  KEYS=$XDG_RUNTIME_DIR/keys-$SLURM_JOB_ID
  trap 'sealbatch node wipe-keys "$KEYS"' EXIT
  sealbatch node fetch-keys --credentials "$CREDS" --out "$KEYS"

Examples:
  sealbatch node fetch-keys --credentials creds.json --out /run/sealbatch/keys-42
  sealbatch --json node fetch-keys --credentials creds.json --key luks`,
    )
    .action(async (o) => {
      const { loadNodeConfig } = await import("../node/config.ts");
      const { fetchKeys } = await import("../node/fetch_keys.ts");
      const { usageError } = await import("../util/errors.ts");
      const config = await loadNodeConfig(o.config);
      const index = o.nodeIndex ?? (Deno.env.get("SLURM_NODEID") || undefined);
      if (index !== undefined && !/^\d{1,3}$/.test(index)) {
        throw usageError(`invalid node index "${index}": expected 0, 1, 2, ...`);
      }
      const vaultAddr = o.vaultAddr ?? config.vaultAddr;
      const caCert = o.caCert ?? config.vaultCacert;
      const r = await atStage("fetch-keys", () =>
        fetchKeys({
          credentialsPath: o.credentials,
          ...(o.out !== undefined ? { outDir: o.out } : {}),
          ...(o.key.length > 0 ? { only: o.key } : {}),
          ...(vaultAddr !== undefined ? { vaultAddr } : {}),
          ...(caCert !== undefined ? { caCert } : {}),
          ...(config.workDir !== undefined ? { workBase: config.workDir } : {}),
          ...(index !== undefined ? { node: Number(index) } : {}),
        }));
      note(`fetched ${r.keys.length} key(s) of job "${r.job}"`);
      result(r.dir, r);
    });
}

export function wipeKeysCommand() {
  return new Command("wipe-keys")
    .description("overwrite and remove a key directory made by fetch-keys (safe to call twice)")
    .argument("<DIR>", "the key directory")
    .addHelpText(
      "after",
      `
Only a 0700 directory holding 0600 files is wiped; anything else is refused.

Examples:
  sealbatch node wipe-keys /run/sealbatch/keys-42`,
    )
    .action(async (dir) => {
      const { wipeKeys } = await import("../node/fetch_keys.ts");
      const n = await wipeKeys(dir);
      result(`wiped ${n} key file(s) in ${dir}`, { dir, wiped: n });
    });
}
