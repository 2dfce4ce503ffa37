/**
 * Node configuration (YAML): `--config FILE`, else $SEALBATCH_NODE_CONFIG,
 * else /etc/sealbatch/node.yaml (a missing default file means defaults).
 * Relative paths are taken relative to the config file's directory.
 */
import { YamlFile } from "../config/yaml.ts";
import { inputError, q } from "../util/errors.ts";
import { exists } from "../util/files.ts";

export const DEFAULT_NODE_CONFIG = "/etc/sealbatch/node.yaml";

export interface NodeConfig {
  /** The file these settings came from; undefined for built-in defaults. */
  file: string | undefined;
  nodeKey: string;
  signersDir: string;
  stateDir: string;
  /** Root for private work directories; undefined = $XDG_RUNTIME_DIR or /run/user/UID. */
  workDir: string | undefined;
  acceptUnmanifested: boolean;
  vaultAddr: string | undefined;
  vaultCacert: string | undefined;
}

export const NODE_DEFAULTS: NodeConfig = {
  file: undefined,
  nodeKey: "/etc/sealbatch/node.sec.asc",
  signersDir: "/etc/sealbatch/signers",
  stateDir: "/var/lib/sealbatch",
  workDir: undefined,
  acceptUnmanifested: false,
  vaultAddr: undefined,
  vaultCacert: undefined,
};

const KEYS = [
  "node_key",
  "signers_dir",
  "state_dir",
  "work_dir",
  "accept_unmanifested",
  "vault_addr",
  "vault_cacert",
];

function envConfig(): string | undefined {
  try {
    return Deno.env.get("SEALBATCH_NODE_CONFIG") || undefined;
  } catch {
    return undefined;
  }
}

/** Load the node config; `file` (from --config) wins over the environment. */
export async function loadNodeConfig(file?: string): Promise<NodeConfig> {
  const explicit = file ?? envConfig();
  const path = explicit ?? DEFAULT_NODE_CONFIG;
  if (explicit === undefined && !(await exists(path))) return { ...NODE_DEFAULTS };
  const yaml = await YamlFile.read(path);
  const root = yaml.root().only(KEYS);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const abs = (p: string | undefined) =>
    p === undefined ? undefined : p.startsWith("/") ? p : `${dir}/${p}`;
  const vaultAddr = root.string("vault_addr");
  if (vaultAddr !== undefined && !/^https?:\/\/[^\s]+$/.test(vaultAddr)) {
    throw inputError(
      `${yaml.where(["vault_addr"])}: vault_addr: expected an http(s) URL, got ${q(vaultAddr)}`,
    );
  }
  return {
    file: path,
    nodeKey: abs(root.string("node_key")) ?? NODE_DEFAULTS.nodeKey,
    signersDir: abs(root.string("signers_dir")) ?? NODE_DEFAULTS.signersDir,
    stateDir: abs(root.string("state_dir")) ?? NODE_DEFAULTS.stateDir,
    workDir: abs(root.string("work_dir")),
    acceptUnmanifested: root.bool("accept_unmanifested") ?? false,
    vaultAddr,
    vaultCacert: abs(root.string("vault_cacert")),
  };
}
