/**
 * `site check`: everything `sealbatch run` needs from a profile, one line per
 * check with what to do when it fails. Keys first (local), then Vault, then
 * the site over SSH. Read-only: nothing is created anywhere.
 */
import type { SiteProfile } from "../config/site.ts";
import { readPublicKeyFile } from "../pgp/keys.ts";
import { attemptCheck, type CheckLine, connectFailure } from "../remote/check.ts";
import { VaultClient } from "../kms/vault_client.ts";
import { tokenFrom, tokenHint } from "../config/vault_token.ts";
import { SealbatchError } from "../util/errors.ts";
import { buildHint } from "../config/site_path.ts";
import { readSecretFile } from "../util/secret_file.ts";
import { profileSettings, SiteBackend } from "./site_backend.ts";

function attempt(
  profile: SiteProfile,
  lines: CheckLine[],
  check: string,
  hint: string,
  fn: () => Promise<string>,
): Promise<boolean> {
  // A build whose network list does not hold the site's hosts: say how to build one that does.
  return attemptCheck(
    lines,
    check,
    hint,
    fn,
    (err) =>
      err instanceof SealbatchError && err.kind === "permission"
        ? { hint: `${buildHint(profile)} (${hint})`, kind: "permission" }
        : {},
  );
}

export async function checkProfile(
  profile: SiteProfile,
  opts: { passphrase?: () => Promise<string> } = {},
): Promise<CheckLine[]> {
  const lines: CheckLine[] = [{ check: "profile", ok: true, detail: `${profile.path} is valid` }];

  await attempt(
    profile,
    lines,
    "node key",
    "get the secure nodes' public key from the site admins",
    async () => {
      const key = await readPublicKeyFile(profile.node.publicKey, "node public key");
      if (!(await key.getEncryptionKey().catch(() => undefined))) {
        throw new Error(`${profile.node.publicKey} has no encryption-capable key`);
      }
      return `${profile.node.publicKey} (${key.getFingerprint().toUpperCase()})`;
    },
  );
  const size = profile.node.workDirSize;
  lines.push({
    check: "node work dir",
    ok: true,
    detail: size === undefined
      ? "size not stated (node.work_dir_size): inputs that will not fit cannot be warned about"
      : `${Math.floor(size / 1048576)} MiB as stated; input containers up to about ${
        Math.floor(size / 2 / 1048576)
      } MiB fit (the node holds the decrypted copy and its files at once)`,
  });
  if (profile.signKey) {
    await attempt(
      profile,
      lines,
      "signing key",
      "create one with 'sealbatch keygen' and register its public key on the nodes",
      async () => {
        const bytes = await readSecretFile(profile.signKey!, {
          label: "signing key",
          maxBytes: 1 << 20,
        });
        if (!new TextDecoder().decode(bytes).includes("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
          throw new Error(`${profile.signKey} is not an armored OpenPGP secret key`);
        }
        return `${profile.signKey} (mode 0600)`;
      },
    );
  } else {
    lines.push({
      check: "signing key",
      ok: false,
      detail: "no sign_key in the profile",
      hint: "set sign_key, or pass --sign-key to sealbatch run",
    });
  }

  let vault: VaultClient | undefined;
  const reached = await attempt(
    profile,
    lines,
    "vault",
    "check vault.addr and vault.ca_cert (TLS is always verified)",
    async () => {
      vault = await VaultClient.connect({
        addr: profile.vault.addr,
        ...(profile.vault.caCert ? { caCert: profile.vault.caCert } : {}),
        ...(profile.vault.namespace ? { namespace: profile.vault.namespace } : {}),
      });
      const h = await vault.health();
      if (h.sealed === true) throw new Error(`${profile.vault.addr} is sealed`);
      return `${profile.vault.addr} reachable${h.version ? `, version ${h.version}` : ""}`;
    },
  );
  if (reached && vault) {
    const client = vault;
    await attempt(
      profile,
      lines,
      "vault token",
      tokenHint(profile.vault.tokenSource),
      async () => {
        const data = await client.withToken(await tokenFrom(profile.vault.tokenSource))
          .lookupSelf();
        const ttl = typeof data.ttl === "number" && data.ttl > 0
          ? `, ${Math.round(data.ttl / 3600)}h left`
          : "";
        return `valid${ttl}`;
      },
    );
  }
  vault?.close();

  // The site itself: the same checks as `remote check` and `run --dry-run` (src/remote/check.ts).
  let backend: SiteBackend;
  try {
    backend = await SiteBackend.connect(profile, opts);
  } catch (err) {
    lines.push(connectFailure(err, profileSettings(profile).connection));
    return lines;
  }
  await using site = backend;
  lines.push(...(await site.check()));
  return lines;
}
