/**
 * Where the client's Vault token comes from (`vault.token_source` in a site
 * profile). The token itself is never in the profile, on a command line or in
 * a message: only the name of its source is.
 */
import { checkToken, userToken } from "../kms/vault_client.ts";
import { q, SealbatchError } from "../util/errors.ts";
import { readSecretFile } from "../util/secret_file.ts";

/**
 * `auto`: VAULT_TOKEN, else ~/.vault-token (as the Vault CLI looks);
 * `env`: VAULT_TOKEN only; `file`: a token file (mode 0600), by default the
 * one `vault login` writes (~/.vault-token).
 */
export type TokenSource = { kind: "auto" } | { kind: "env" } | { kind: "file"; path: string };

/** The written form of a source, for messages and `--json`. */
export function tokenSourceText(source: TokenSource): string {
  return source.kind === "file" ? `file:${source.path}` : source.kind;
}

/** The user's Vault token from `source`. */
export async function tokenFrom(source: TokenSource): Promise<string> {
  if (source.kind === "auto") return await userToken();
  if (source.kind === "env") {
    let value: string | undefined;
    try {
      value = Deno.env.get("VAULT_TOKEN");
    } catch {
      // not granted: the same as unset
    }
    if (value === undefined || value.trim() === "") {
      throw new SealbatchError("kms", "no Vault token: VAULT_TOKEN is not set", {
        hint: "set VAULT_TOKEN (the profile's vault.token_source is env)",
      });
    }
    return checkToken(value.trim(), "VAULT_TOKEN");
  }
  const label = `Vault token file ${q(source.path)}`;
  let bytes: Uint8Array;
  try {
    bytes = await readSecretFile(source.path, { label: "Vault token file", maxBytes: 4096 });
  } catch (err) {
    if (err instanceof SealbatchError && /no such file/i.test(err.message)) {
      throw new SealbatchError("kms", `no Vault token: ${label} does not exist`, {
        hint: source.path.endsWith("/.vault-token")
          ? "log in with `vault login` (it writes ~/.vault-token)"
          : `write the token to ${q(source.path)} (mode 0600)`,
      });
    }
    throw err;
  }
  const text = new TextDecoder().decode(bytes).trim();
  if (text === "") throw new SealbatchError("kms", `no Vault token: ${label} is empty`);
  return checkToken(text, `token in ${label}`);
}

/** What to do when the token from `source` is missing or refused. */
export function tokenHint(source: TokenSource): string {
  switch (source.kind) {
    case "auto":
      return "log in with `vault login` or set VAULT_TOKEN";
    case "env":
      return "set VAULT_TOKEN to a valid token (vault.token_source: env)";
    case "file":
      return `put a valid token into ${q(source.path)} (mode 0600; vault.token_source)`;
  }
}
