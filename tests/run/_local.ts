/**
 * A project for `runJob` with the local executor (src/run/local_backend.ts):
 * the real node side on this machine, a local directory standing in for the
 * shared file system, and the Vault-compatible development server (the
 * project's Vault stand-in). No site, no SSH, no Slurm.
 */
import { startDevServer } from "../../src/kms/dev_server.ts";
import { VaultClient } from "../../src/kms/vault_client.ts";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { LocalBackend } from "../../src/run/local_backend.ts";
import { prepareLocalNode } from "../../src/run/local_node.ts";
import type { RunInput } from "../../src/run/run.ts";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { localUser } from "../../src/util/user.ts";
import { CLI_ARGS, tempDir } from "../_helpers/cli.ts";

export const NODE_COMMAND = [Deno.execPath(), ...CLI_ARGS];

export interface LocalProject extends AsyncDisposable {
  dir: string;
  /** The project directory (job.yaml, input/). */
  project: string;
  backend: LocalBackend;
  vault: VaultClient;
  nodePublicKey: string;
  signKey: string;
  /** The runJob input for job.yaml (override what a test needs). */
  input(extra?: Partial<RunInput>): Promise<RunInput>;
}

export async function localProject(opts: {
  memoryRoot: string;
  spec?: string;
  passphrase?: string;
}): Promise<LocalProject> {
  const tmp = await tempDir("sealbatch-local-run");
  const dir = tmp.path;
  const server = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: "root-l" });
  const vault = await VaultClient.connect({ addr: server.addr }, "root-l");
  const user = localUser();
  const you = await writeKeyPair({
    kind: "user",
    name: "you",
    email: "you@example.org",
    outDir: `${dir}/keys`,
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
  });
  const node = await prepareLocalNode({
    dir: `${dir}/node`,
    user,
    userPublicKey: you.publicKey,
    memoryRoot: opts.memoryRoot,
    vaultAddr: server.addr,
  });
  await Deno.mkdir(`${dir}/shared`);
  const backend = new LocalBackend({
    root: `${dir}/shared`,
    nodeConfig: node.config,
    nodeCommand: NODE_COMMAND,
  });
  const project = `${dir}/project`;
  await Deno.mkdir(`${project}/input`, { recursive: true });
  await Deno.writeTextFile(`${project}/input/data.txt`, "k-space\n");
  await Deno.writeTextFile(
    `${project}/job.yaml`,
    opts.spec ?? 'name: local\ninput: input\ncommand: "cp {input}/data.txt {output}/"\n',
  );
  return {
    dir,
    project,
    backend,
    vault,
    nodePublicKey: node.publicKey,
    signKey: you.secretKey,
    input: async (extra = {}) => ({
      spec: await loadJobSpec(`${project}/job.yaml`),
      site: undefined,
      backend,
      vault,
      stateDir: `${project}/.sealbatch/jobs/local-00000001`,
      dryRun: false,
      signKey: you.secretKey,
      nodePublicKey: node.publicKey,
      nodeCommand: NODE_COMMAND,
      user,
      ...extra,
    }),
    async [Symbol.asyncDispose]() {
      await backend[Symbol.asyncDispose]();
      vault.close();
      await server.shutdown();
      await node.remove();
      await tmp[Symbol.asyncDispose]();
    },
  };
}
