/**
 * The "local executor" site of the UI: what `sealbatch demo` stands in for a
 * site with, for as long as the UI runs. The development Vault (in this
 * process, loopback only, a user token limited to the user's own escrow
 * prefix), a key pair for the user, a node of its own and a directory
 * standing in for the shared file system, all under
 * <project>/.sealbatch/local-executor-XXXX (0700), removed when the UI stops.
 * Jobs go through the same `run` pipeline as on a real site.
 */
import type { DevServer } from "../kms/dev_server.ts";
import type { VaultClient } from "../kms/vault_client.ts";
import { startVault, userVaultClient } from "../demo/demo.ts";
import { writeKeyPair } from "../pgp/keygen.ts";
import { LocalBackend } from "../run/local_backend.ts";
import { type LocalNode, prepareLocalNode } from "../run/local_node.ts";
import { selfCommand } from "../util/self.ts";
import { localUser } from "../util/user.ts";

export const LOCAL_SITE = "local";

export class LocalSite {
  readonly backend: LocalBackend;
  readonly vault: VaultClient;
  readonly signKey: string;
  readonly nodePublicKey: string;
  readonly nodeCommand: string[];
  readonly user: string;
  readonly dir: string;
  readonly #server: DevServer;
  readonly #root: VaultClient;
  readonly #node: LocalNode;

  private constructor(o: {
    dir: string;
    server: DevServer;
    root: VaultClient;
    vault: VaultClient;
    node: LocalNode;
    signKey: string;
    user: string;
  }) {
    this.dir = o.dir;
    this.#server = o.server;
    this.#root = o.root;
    this.vault = o.vault;
    this.#node = o.node;
    this.signKey = o.signKey;
    this.nodePublicKey = o.node.publicKey;
    this.nodeCommand = selfCommand();
    this.user = o.user;
    this.backend = new LocalBackend({
      root: `${o.dir}/shared`,
      nodeConfig: o.node.config,
      nodeCommand: this.nodeCommand,
    });
  }

  static async start(stateRoot: string): Promise<LocalSite> {
    await Deno.mkdir(stateRoot, { recursive: true, mode: 0o700 });
    const dir = await Deno.makeTempDir({ dir: stateRoot, prefix: "local-executor-" });
    await Deno.chmod(dir, 0o700);
    const user = localUser();
    const server = await startVault(undefined);
    try {
      const { client, root } = await userVaultClient(server, user, "secret");
      const you = await writeKeyPair({
        kind: "user",
        name: "you",
        email: `${user}@sealbatch-ui.localhost`,
        outDir: `${dir}/you`,
      });
      const node = await prepareLocalNode({
        dir: `${dir}/node`,
        user,
        userPublicKey: you.publicKey,
        vaultAddr: server.addr,
      });
      await Deno.mkdir(`${dir}/shared`, { mode: 0o755 });
      return new LocalSite({
        dir,
        server,
        root,
        vault: client,
        node,
        signKey: you.secretKey,
        user,
      });
    } catch (err) {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.backend[Symbol.asyncDispose]();
    await this.#node.remove();
    this.vault.close();
    this.#root.close();
    await this.#server.shutdown();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
