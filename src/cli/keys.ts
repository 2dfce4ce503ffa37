/** `sealbatch keys ...`: escrow a job's keys in Vault and follow their credentials. */
import { Command, Option } from "@commander-js/extra-typings";
import { inputError, q, SealbatchError, usageError } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";
import { exists } from "../util/files.ts";
import { writeSecretFile } from "../util/secret_file.ts";
import { localUser } from "../util/user.ts";
import { DEFAULT_STATE_DIR, readRecord } from "../kms/job_record.ts";
import type { Credentials, KeyMode } from "../kms/credentials.ts";
import type { VaultClient } from "../kms/vault_client.ts";
import type { TokenSource } from "../config/vault_token.ts";
import { jsonMode, note, result } from "./output.ts";

interface VaultFlags {
  vaultAddr?: string;
  caCert?: string;
  namespace?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The Vault settings of `--site` (address, CA, namespace), when it is given. */
export async function siteVault(
  site: string | undefined,
): Promise<{ path: string; addr: string; caCert?: string; namespace?: string } | undefined> {
  if (site === undefined) return undefined;
  const { loadSiteProfile } = await import("../config/site.ts");
  const { siteProfilePath } = await import("../config/site_path.ts");
  const p = await loadSiteProfile(await siteProfilePath(site));
  return {
    path: p.path,
    addr: p.vault.addr,
    ...(p.vault.caCert ? { caCert: p.vault.caCert } : {}),
    ...(p.vault.namespace ? { namespace: p.vault.namespace } : {}),
  };
}

async function clientFor(
  flags: VaultFlags,
  withToken: boolean,
  recordAddr?: string,
  tokenSource: TokenSource = { kind: "auto" },
): Promise<VaultClient> {
  const { VaultClient, vaultSettings } = await import("../kms/vault_client.ts");
  const { tokenFrom } = await import("../config/vault_token.ts");
  const settings = vaultSettings({
    ...(flags.vaultAddr ?? recordAddr ? { addr: flags.vaultAddr ?? recordAddr! } : {}),
    ...(flags.caCert ? { caCert: flags.caCert } : {}),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
  });
  return await VaultClient.connect(settings, withToken ? await tokenFrom(tokenSource) : undefined);
}

/** Write credentials to `out` (0600, never overwriting), or print them with --json. */
async function deliver(
  credentials: Credentials,
  out: string | undefined,
  summary: string,
  data: unknown,
) {
  if (out !== undefined) {
    await writeSecretFile(out, JSON.stringify(credentials, null, 2) + "\n");
    result(
      `${summary}\ncredentials: ${out} (mode 0600; put it into the job script, then delete it)`,
      data,
    );
  } else {
    result("", credentials);
  }
}

async function checkOut(out: string | undefined): Promise<void> {
  if (out === undefined && !jsonMode()) {
    throw usageError("where should the credentials go?", {
      hint: "give --out FILE (written 0600), or --json to print them on stdout",
    });
  }
  if (out === undefined) return;
  if (await exists(out)) {
    throw inputError(`cannot write credentials to ${q(out)}: it already exists`, {
      hint: "credentials files are never overwritten; choose another path",
    });
  }
  // Checked before Vault is contacted: a failure after escrow would leave live credentials.
  const parent = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) || "/" : ".";
  const info = await Deno.stat(parent).catch(() => undefined);
  if (!info?.isDirectory) {
    throw inputError(`cannot write credentials to ${q(out)}: ${q(parent)} is not a directory`);
  }
}

function escrowCommand() {
  return new Command("escrow")
    .description("store a job's keys in Vault and write single-use credentials for the job script")
    .requiredOption("--job <ID>", "job id (part of the Vault path)")
    .option(
      "--key <NAME=FILE>",
      "a key to escrow (repeatable), e.g. luks=./data.key",
      collect,
      [] as string[],
    )
    .option(
      "--wrap-ttl <DURATION>",
      "how long the credentials stay valid (default 72h or the site's)",
    )
    .addOption(
      new Option("--mode <MODE>", "job-scoped (default) or reference").choices(
        ["job-scoped", "reference"] as const,
      ),
    )
    .option("--policy <NAME>", "reference mode: the site's policy for job tokens")
    .option("--nodes <N>", "nodes of the job: one credential per node and key (default 1)")
    .option("--user <NAME>", "user name in Vault paths (default: the local user)")
    .option("--mount <NAME>", "KV v2 mount (default secret)")
    .option("--out <FILE>", "write the credentials here (0600)")
    .option("--state <DIR>", `project state directory (default ${DEFAULT_STATE_DIR})`)
    .option("--site <FILE>", "site profile (Vault address, CA, mount, wrap TTL, key mode)")
    .option("--vault-addr <URL>", "Vault address (default VAULT_ADDR)")
    .option("--ca-cert <PEM>", "CA certificate for Vault's TLS (default VAULT_CACERT)")
    .option("--namespace <NS>", "Vault namespace (default VAULT_NAMESPACE)")
    .addHelpText(
      "after",
      `
The Vault token comes from VAULT_TOKEN or ~/.vault-token (with --site: as its
vault.token_source says), never from the command line.
A record for status/rewrap/revoke goes to <state>/jobs/<JOB>/keys.json (0600).

Examples:
  sealbatch keys escrow --job mri-042 --key luks=data.key --key image=rsa_pri.pem --out creds.json
  sealbatch --json keys escrow --job mri-042 --key luks=data.key --wrap-ttl 96h > creds.json
  sealbatch keys escrow --job mri-042 --key luks=data.key --mode reference --policy secure-hpc --out c.json
  sealbatch keys escrow --job mri-043 --key luks=data.key --nodes 3 --out creds.json`,
    )
    .action(async (o) => {
      const pairs = o.key.map((spec) => {
        const at = spec.indexOf("=");
        if (at <= 0 || at === spec.length - 1) {
          throw usageError(`invalid --key ${q(spec)}: expected NAME=FILE`);
        }
        return { name: spec.slice(0, at), file: spec.slice(at + 1) };
      });
      const { loadSiteProfile } = await import("../config/site.ts");
      const site = o.site ? await loadSiteProfile(o.site) : undefined;
      const mode: KeyMode = o.mode ?? site?.vault.keyMode ?? "job-scoped";
      const policy = o.policy ?? (mode === "reference" ? site?.vault.referencePolicy : undefined);
      if (mode === "reference" && !policy) throw usageError("--mode reference needs --policy NAME");
      if (mode !== "reference" && o.policy) {
        throw usageError("--policy is only used with --mode reference");
      }
      if (pairs.length === 0) {
        throw usageError("no key to escrow", { hint: "give --key NAME=FILE" });
      }
      const nodes = o.nodes === undefined ? 1 : Number(o.nodes);
      if (!/^\d{1,2}$/.test(o.nodes ?? "1") || nodes < 1) {
        throw usageError(`invalid --nodes ${q(o.nodes ?? "")}: expected a whole number of nodes`);
      }
      if (nodes > 1 && mode === "reference") {
        throw usageError("--nodes needs job-scoped keys: reference mode has one token per key");
      }
      await checkOut(o.out);
      const wrapTtlMs = o.wrapTtl
        ? parseDuration(o.wrapTtl, "--wrap-ttl")
        : site?.vault.wrapTtlMs ?? 72 * 3600_000;
      const flags: VaultFlags = {
        ...(o.vaultAddr ?? site?.vault.addr ? { vaultAddr: o.vaultAddr ?? site!.vault.addr } : {}),
        ...(o.caCert ?? site?.vault.caCert ? { caCert: o.caCert ?? site!.vault.caCert! } : {}),
        ...(o.namespace ?? site?.vault.namespace
          ? { namespace: o.namespace ?? site!.vault.namespace! }
          : {}),
      };
      const { escrowJob } = await import("../kms/escrow.ts");
      const { revokeJob } = await import("../kms/followup.ts");
      const vault = await clientFor(flags, true, undefined, site?.vault.tokenSource);
      try {
        const r = await escrowJob(vault, {
          job: o.job,
          user: o.user ?? localUser(),
          keys: pairs,
          mode,
          ...(policy ? { policy } : {}),
          wrapTtlMs,
          mount: o.mount ?? site?.vault.mount ?? "secret",
          stateDir: o.state ?? DEFAULT_STATE_DIR,
          nodes,
        });
        const summary = `escrowed ${r.record.keys.length} key(s) for job ${q(o.job)} (${mode}); ` +
          `credentials expire ${r.credentials.expires_at}\nrecord: ${r.recordPath}`;
        try {
          await deliver(r.credentials, o.out, summary, {
            job: o.job,
            mode,
            keys: r.record.keys.map((k) => ({ name: k.name, path: k.path })),
            expires_at: r.credentials.expires_at,
            record: r.recordPath,
            credentials: o.out,
          });
        } catch (err) {
          // Credentials nobody received must not stay usable.
          await revokeJob(vault, o.state ?? DEFAULT_STATE_DIR, r.record).catch(() => {});
          throw err;
        }
      } finally {
        vault.close();
      }
    });
}

function statusCommand() {
  return new Command("status")
    .description(
      "show whether each credential of a job is unused, used or expired (consumes nothing)",
    )
    .requiredOption("--job <ID>", "job id")
    .option("--pending", "the job has not started yet: any used credential means interception")
    .option("--state <DIR>", `project state directory (default ${DEFAULT_STATE_DIR})`)
    .option("--site <name|file>", "take Vault's CA and namespace from this site profile")
    .option("--vault-addr <URL>", "Vault address (default: the one the keys were escrowed at)")
    .option("--ca-cert <PEM>", "CA certificate for Vault's TLS (default VAULT_CACERT)")
    .addHelpText(
      "after",
      `
Exit code 5 when a credential was used while the job had not started (possible interception).

Examples:
  sealbatch keys status --job mri-042 --site mysite
  sealbatch --json keys status --job mri-042 --pending`,
    )
    .action(async (o) => {
      const { keyStatus } = await import("../kms/followup.ts");
      const state = o.state ?? DEFAULT_STATE_DIR;
      const record = await readRecord(state, o.job);
      const site = await siteVault(o.site);
      const vault = await clientFor(
        {
          ...o,
          ...(!o.caCert && site?.caCert ? { caCert: site.caCert } : {}),
          ...(site?.namespace ? { namespace: site.namespace } : {}),
        },
        false,
        record.vault_addr,
      );
      try {
        const status = await keyStatus(vault, record, o.pending ? { jobStarted: false } : {});
        const lines = status.keys.map((k) =>
          `${k.name.padEnd(12)} ${k.state.padEnd(8)} expires ${k.expires_at}${
            k.interception ? "  POSSIBLE INTERCEPTION" : ""
          }`
        );
        result(`job ${q(o.job)} (${status.mode})\n${lines.join("\n")}`, status);
        if (status.interception) {
          throw new SealbatchError(
            "intercepted",
            `a credential of job ${
              q(o.job)
            } was used although the job has not started: possible interception`,
            { hint: `revoke the keys now: sealbatch keys revoke --job ${o.job}` },
          );
        }
      } finally {
        vault.close();
      }
    });
}

function rewrapCommand() {
  return new Command("rewrap")
    .description("replace a pending job's unused credentials with fresh ones of the same TTL")
    .requiredOption("--job <ID>", "job id")
    .option("--out <FILE>", "write the new credentials here (0600)")
    .option("--state <DIR>", `project state directory (default ${DEFAULT_STATE_DIR})`)
    .option("--vault-addr <URL>", "Vault address (default: the one the keys were escrowed at)")
    .option("--ca-cert <PEM>", "CA certificate for Vault's TLS (default VAULT_CACERT)")
    .addHelpText(
      "after",
      `
The old credentials stop working: the job must be given the new ones.

Examples:
  sealbatch keys rewrap --job mri-042 --out creds-new.json`,
    )
    .action(async (o) => {
      await checkOut(o.out);
      const { rewrapJob } = await import("../kms/followup.ts");
      const state = o.state ?? DEFAULT_STATE_DIR;
      const record = await readRecord(state, o.job);
      const vault = await clientFor(o, true, record.vault_addr);
      try {
        const r = await rewrapJob(vault, state, record);
        await deliver(
          r.credentials,
          o.out,
          `rewrapped ${r.rewrapped.length} credential(s) of job ${
            q(o.job)
          }; they expire ${r.credentials.expires_at}`,
          {
            job: o.job,
            rewrapped: r.rewrapped,
            expires_at: r.credentials.expires_at,
            credentials: o.out,
          },
        );
      } finally {
        vault.close();
      }
    });
}

function revokeCommand() {
  return new Command("revoke")
    .description("delete a job's secrets from Vault and revoke its remaining credentials")
    .requiredOption("--job <ID>", "job id")
    .option("--state <DIR>", `project state directory (default ${DEFAULT_STATE_DIR})`)
    .option("--vault-addr <URL>", "Vault address (default: the one the keys were escrowed at)")
    .option("--ca-cert <PEM>", "CA certificate for Vault's TLS (default VAULT_CACERT)")
    .addHelpText(
      "after",
      `
Examples:
  sealbatch keys revoke --job mri-042`,
    )
    .action(async (o) => {
      const { revokeJob } = await import("../kms/followup.ts");
      const state = o.state ?? DEFAULT_STATE_DIR;
      const record = await readRecord(state, o.job);
      const vault = await clientFor(o, true, record.vault_addr);
      try {
        const r = await revokeJob(vault, state, record);
        note(`revoked ${r.revoked} unused credential(s)`);
        result(`deleted ${r.deleted.length} secret(s) of job ${q(o.job)}`, { job: o.job, ...r });
      } finally {
        vault.close();
      }
    });
}

export function keysCommand(): Command {
  return new Command("keys")
    .description("escrow a job's keys in Vault behind single-use credentials, and follow them")
    .addCommand(escrowCommand())
    .addCommand(statusCommand())
    .addCommand(rewrapCommand())
    .addCommand(revokeCommand())
    .addHelpText(
      "after",
      `
Examples:
  sealbatch keys escrow --job mri-042 --key luks=data.key --out creds.json
  sealbatch keys status --job mri-042
  sealbatch keys revoke --job mri-042`,
    );
}
