/** `sealbatch kms ...`: the key service (Vault): health check and the development server. */
import { Command } from "@commander-js/extra-typings";
import { inputError, q, refusal, SealbatchError, usageError } from "../util/errors.ts";
import { readTextCapped } from "../util/files.ts";
import { note, result, warn } from "./output.ts";

function parseListen(text: string): { hostname: string; port: number } {
  const m = text.match(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/);
  const port = Number(m?.[2]);
  if (!m || port > 65535) {
    throw usageError(`invalid --listen ${q(text)}: expected HOST:PORT such as 127.0.0.1:8200`);
  }
  return { hostname: m[1]!.replace(/^\[|\]$/g, ""), port };
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

function devServerCommand() {
  return new Command("dev-server")
    .description("run a Vault-compatible development server (a stand-in for tests and demos)")
    .option(
      "--listen <HOST:PORT>",
      "address to listen on (port 0 picks a free one)",
      "127.0.0.1:8200",
    )
    .option("--root-token <TOKEN>", "root token to use (default: a random one, printed on start)")
    .option("--tls-cert <PEM>", "serve HTTPS with this certificate chain")
    .option("--tls-key <PEM>", "private key for --tls-cert")
    .addHelpText(
      "after",
      `
A stand-in for tests, demos and training, like \`vault server -dev\`: in memory only, KV v2 at
secret/. Production sites use HashiCorp Vault or OpenBao; never keep real keys in this server.
Prints "Api Address: URL" and "Root Token: TOKEN" on stdout, then serves until Ctrl-C.
Plain HTTP is only allowed on loopback; elsewhere give --tls-cert and --tls-key.

Examples:
  sealbatch kms dev-server
  sealbatch kms dev-server --listen 127.0.0.1:0 --root-token dev-root
  sealbatch kms dev-server --listen 0.0.0.0:8200 --tls-cert vault.crt --tls-key vault.key`,
    )
    .action(async (o) => {
      const { hostname, port } = parseListen(o.listen);
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
        throw usageError("--tls-cert and --tls-key go together");
      }
      if (o.tlsCert === undefined && !LOOPBACK.has(hostname)) {
        throw refusal(`refusing to serve plain HTTP on ${q(hostname)}`, {
          hint: "listen on 127.0.0.1, or give --tls-cert and --tls-key",
        });
      }
      if (o.rootToken !== undefined && !/^[A-Za-z0-9._-]{1,256}$/.test(o.rootToken)) {
        throw inputError("invalid --root-token: use letters, digits, '.', '_' and '-'");
      }
      const tls = o.tlsCert !== undefined
        ? {
          cert: await readTextCapped(o.tlsCert, 1 << 20, "TLS certificate"),
          key: await readTextCapped(o.tlsKey!, 1 << 20, "TLS key"),
        }
        : {};
      const { startDevServer } = await import("../kms/dev_server.ts");
      let server;
      try {
        server = await startDevServer({
          hostname,
          port,
          ...(o.rootToken !== undefined ? { rootToken: o.rootToken } : {}),
          ...tls,
        });
      } catch (err) {
        throw new SealbatchError(
          "kms",
          `cannot start the development server on ${q(o.listen)}: ${(err as Error).message}`,
        );
      }
      warn(
        "development server: everything is in memory and lost on exit; production uses HashiCorp Vault or OpenBao",
      );
      result(`Api Address: ${server.addr}\nRoot Token: ${server.rootToken}`, {
        addr: server.addr,
        root_token: server.rootToken,
      });
      const stop = () => void server.shutdown();
      for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
      await server.finished;
      note("development server stopped");
    });
}

function healthCommand() {
  return new Command("health")
    .description("check that Vault is reachable, initialized and unsealed (sys/health)")
    .option("--site <name|file>", "take Vault's address and CA from this site profile")
    .option("--vault-addr <URL>", "Vault address (default VAULT_ADDR)")
    .option("--ca-cert <PEM>", "CA certificate for Vault's TLS (default VAULT_CACERT)")
    .addHelpText(
      "after",
      `
Examples:
  sealbatch kms health --site mysite
  VAULT_ADDR=https://vault.example.org:8200 sealbatch --json kms health`,
    )
    .action(async (o) => {
      const { VaultClient, vaultSettings } = await import("../kms/vault_client.ts");
      const { siteVault } = await import("./keys.ts");
      const fromSite = await siteVault(o.site);
      const addr = o.vaultAddr ?? fromSite?.addr;
      const caCert = o.caCert ?? fromSite?.caCert;
      const vault = await VaultClient.connect(vaultSettings({
        ...(addr ? { addr } : {}),
        ...(caCert ? { caCert } : {}),
        ...(fromSite?.namespace ? { namespace: fromSite.namespace } : {}),
      })).catch(async (err) => {
        throw fromSite ? (await import("../config/site_path.ts")).forSiteBuild(err, fromSite) : err;
      });
      try {
        const h = await vault.health();
        const ok = h.status === 200;
        result(
          `${vault.addr}: ${ok ? "ok" : `not active (HTTP ${h.status})`}, version ${
            h.version ?? "?"
          }`,
          h,
        );
        if (!ok) {
          throw new SealbatchError("kms", `Vault at ${vault.addr} is not ready (HTTP ${h.status})`);
        }
      } finally {
        vault.close();
      }
    });
}

export function kmsCommand(): Command {
  return new Command("kms")
    .description("the key service (Vault): health check and a development server")
    .addCommand(devServerCommand())
    .addCommand(healthCommand())
    .addHelpText(
      "after",
      `
Examples:
  sealbatch kms dev-server --listen 127.0.0.1:8200
  sealbatch kms health --vault-addr http://127.0.0.1:8200`,
    );
}
