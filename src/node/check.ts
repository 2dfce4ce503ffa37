/**
 * `node check`: an admin's self-test of a secure node, one line per setting
 * that decrypt_and_execute relies on (docs/admin.md), with what to do when it
 * fails. Read-only: nothing is created, no key leaves memory, no job runs.
 */
import { attemptCheck, type CheckLine } from "../remote/check.ts";
import { parsePrivateKey, parsePublicKey } from "../pgp/keys.ts";
import { VaultClient } from "../kms/vault_client.ts";
import { exec, hasProgram } from "../util/exec.ts";
import { q } from "../util/errors.ts";
import { readTextCapped } from "../util/files.ts";
import { readSecretFile } from "../util/secret_file.ts";
import { lookupAccount } from "./account.ts";
import { loadNodeConfig, type NodeConfig } from "./config.ts";
import { fsTypeOf } from "./fetch_keys.ts";

export interface NodeCheckInput {
  /** --config; else $SEALBATCH_NODE_CONFIG, else /etc/sealbatch/node.yaml. */
  configFile?: string;
  /** The wrapper every run.sh names. */
  wrapper?: string;
  /** Accounts whose sudo rule is checked (default: every registered signer). */
  users?: string[];
}

export interface NodeCheckReport {
  config: NodeConfig;
  checks: CheckLine[];
}

const WRAPPER = "/usr/bin/decrypt_and_execute";
const MIB = 1024 * 1024;

/** A failed node check is a setting of the node's files: exit 3. */
const attempt = (lines: CheckLine[], check: string, hint: string, fn: () => Promise<string>) =>
  attemptCheck(lines, check, hint, fn, () => ({ kind: "input" }));

function octal(mode: number | null): string {
  return ((mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
}

/** A root-owned path that only root may change (when the check runs as root). */
async function rootOwned(path: string, what: string): Promise<Deno.FileInfo> {
  const info = await Deno.lstat(path);
  if (info.isSymlink) throw new Error(`${what} ${q(path)} is a symlink`);
  if (Deno.uid() === 0 && info.uid !== 0) {
    throw new Error(`${what} ${q(path)} is owned by uid ${info.uid}, not root`);
  }
  if (((info.mode ?? 0) & 0o022) !== 0) {
    throw new Error(`${what} ${q(path)} is writable by group or others (mode ${octal(info.mode)})`);
  }
  return info;
}

/** The program the wrapper hands the job to: `sudo [-flags] PATH node decrypt-and-execute`. */
function sudoTarget(script: string): string | undefined {
  const m = /\bsudo\s+(?:-\S+\s+)*(?:"([^"]+)"|(\S+))\s+node\s+decrypt-and-execute\b/.exec(script);
  return m?.[1] ?? m?.[2];
}

async function signerNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".asc")) names.push(entry.name.slice(0, -4));
  }
  return names.sort();
}

/** Size and free bytes of the file system holding `path` (df, since /proc is closed). */
async function space(path: string): Promise<{ size: number; avail: number }> {
  const out = await exec("df", ["-B1", "--output=size,avail", path], {
    what: `checking the space of ${q(path)}`,
    requireOutput: true,
  });
  const m = out.text.trim().split("\n").at(-1)?.trim().match(/^(\d+)\s+(\d+)$/);
  if (!m) throw new Error(`df printed no size for ${q(path)}`);
  return { size: Number(m[1]), avail: Number(m[2]) };
}

export async function checkNode(input: NodeCheckInput = {}): Promise<NodeCheckReport> {
  const config = await loadNodeConfig(input.configFile);
  const lines: CheckLine[] = [{
    check: "node config",
    ok: true,
    detail: config.file ? `${config.file} is valid` : "built-in defaults (no config file)",
  }];
  const root = Deno.uid() === 0;

  await attempt(
    lines,
    "node key",
    "make one with 'sealbatch keygen --kind node' (unprotected, mode 0600, root's)",
    async () => {
      await rootOwned(config.nodeKey, "node key");
      const bytes = await readSecretFile(config.nodeKey, { label: "node key", maxBytes: 1 << 20 });
      // Unattended: a passphrase-protected key could never be used by decrypt_and_execute.
      const key = await parsePrivateKey(
        new TextDecoder().decode(bytes),
        `node key ${q(config.nodeKey)}`,
      );
      if (!(await key.getDecryptionKeys().catch(() => [])).length) {
        throw new Error(`${q(config.nodeKey)} has no key that can decrypt`);
      }
      return `${config.nodeKey} (${key.getFingerprint().toUpperCase()}), mode 0600, unprotected`;
    },
  );

  let signers: string[] = [];
  await attempt(
    lines,
    "signers",
    "register each user's public key as SIGNERS_DIR/USER.asc, in a directory only root can change",
    async () => {
      const info = await rootOwned(config.signersDir, "signers directory");
      if (!info.isDirectory) throw new Error(`${q(config.signersDir)} is not a directory`);
      signers = await signerNames(config.signersDir);
      if (signers.length === 0) throw new Error(`no USER.asc keys in ${q(config.signersDir)}`);
      for (const name of signers) {
        const path = `${config.signersDir}/${name}.asc`;
        await rootOwned(path, "signer key");
        const key = await parsePublicKey(
          await readTextCapped(path, 1 << 20, "signer key"),
          `signer key ${q(path)}`,
        );
        if (!(await key.getSigningKey().catch(() => undefined))) {
          throw new Error(`${q(path)} has no key that can sign`);
        }
        await lookupAccount(name);
      }
      return `${config.signersDir}: ${signers.length} registered (${signers.join(", ")})`;
    },
  );

  await attempt(
    lines,
    "state directory",
    "decrypt_and_execute keeps each job's nonce here: a directory of root's, mode 0700",
    async () => {
      const info = await rootOwned(config.stateDir, "state directory").catch((err) => {
        if (err instanceof Deno.errors.NotFound) return undefined;
        throw err;
      });
      if (!info) return `${config.stateDir} (made on the first job, mode 0700)`;
      if (!info.isDirectory) throw new Error(`${q(config.stateDir)} is not a directory`);
      if (((info.mode ?? 0) & 0o077) !== 0) {
        throw new Error(
          `${q(config.stateDir)} is open to group or others (mode ${octal(info.mode)})`,
        );
      }
      return `${config.stateDir}, mode ${octal(info.mode)}`;
    },
  );

  await attempt(
    lines,
    "work directory",
    "set work_dir to a tmpfs of the node's own: mount -t tmpfs -o mode=0711,size=64g,nosuid,nodev tmpfs /run/sealbatch",
    async () => {
      if (config.workDir === undefined) throw new Error("work_dir is not set");
      const info = await rootOwned(config.workDir, "work directory");
      if (!info.isDirectory) throw new Error(`${q(config.workDir)} is not a directory`);
      const type = await fsTypeOf(config.workDir);
      if (type !== "tmpfs" && type !== "ramfs") {
        throw new Error(`${q(config.workDir)} is on ${type}, not node-local memory`);
      }
      const { size, avail } = await space(config.workDir);
      return `${config.workDir}: ${type}, ${Math.round(size / MIB)} MiB (${
        Math.round(avail / MIB)
      } MiB free), mode ${octal(info.mode)}`;
    },
  );

  const wrapper = input.wrapper ?? WRAPPER;
  let target: string | undefined;
  await attempt(
    lines,
    "wrapper",
    `install ${wrapper} (root's, mode 0755): exec sudo -n /usr/local/sbin/sealbatch-node node decrypt-and-execute "$@"`,
    async () => {
      const info = await rootOwned(wrapper, "wrapper");
      if (!info.isFile || ((info.mode ?? 0) & 0o111) === 0) {
        throw new Error(`${q(wrapper)} is not an executable file`);
      }
      target = sudoTarget(await readTextCapped(wrapper, 64 * 1024, "wrapper"));
      if (target === undefined) {
        throw new Error(`${q(wrapper)} does not run 'sudo -n PATH node decrypt-and-execute'`);
      }
      return `${wrapper}, mode ${octal(info.mode)}: sudo ${target}`;
    },
  );

  const users = input.users ?? signers;
  if (!root) {
    lines.push({ check: "sudo rule", ok: true, detail: "not checked: run node check as root" });
  } else if (target !== undefined) {
    for (const user of users) {
      const command = target.replaceAll("$(id -un)", user).replaceAll("${USER}", user)
        .replaceAll("$USER", user);
      await attempt(
        lines,
        "sudo rule",
        `let ${user} run exactly '${command} node decrypt-and-execute' as root, NOPASSWD (docs/admin.md)`,
        async () => {
          // sudo -l with a command answers for exactly that command: 0 allowed, 1 not.
          const out = await exec(
            "sudo",
            ["-n", "-l", "-U", user, command, "node", "decrypt-and-execute"],
            { what: `asking sudo about ${q(user)}`, okCodes: [0, 1] },
          );
          if (out.code !== 0) {
            throw new Error(`${q(user)} may not run ${q(command)} node decrypt-and-execute`);
          }
          return `${user} may run ${command} node decrypt-and-execute`;
        },
      );
    }
  }

  // Jobs of several nodes start their nodes' parts and their command through srun (across_nodes.ts).
  lines.push(
    await hasProgram("srun")
      ? { check: "several nodes", ok: true, detail: "srun found: jobs of several nodes can start" }
      : {
        check: "several nodes",
        ok: true,
        warning: true,
        detail:
          "srun is not on PATH: jobs of several nodes cannot start here (jobs of one node can)",
      },
  );

  if (config.vaultAddr === undefined) {
    lines.push({
      check: "vault",
      ok: true,
      detail: "no vault_addr: each job's credentials name the Vault address",
    });
  } else {
    const addr = config.vaultAddr;
    await attempt(
      lines,
      "vault",
      "the node needs HTTPS to Vault (vault_addr, vault_cacert in the node config)",
      async () => {
        const client = await VaultClient.connect({
          addr,
          ...(config.vaultCacert !== undefined ? { caCert: config.vaultCacert } : {}),
          timeoutMs: 5000,
          retries: 0,
        });
        try {
          const health = await client.health();
          return `${addr} reachable${health.sealed === true ? ", but sealed" : ""}`;
        } finally {
          client.close();
        }
      },
    );
  }
  return { config, checks: lines };
}
