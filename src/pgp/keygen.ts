/**
 * `keygen`: a key pair as two files, DIR/NAME.sec.asc (created exclusively,
 * mode 0600) and DIR/NAME.pub.asc. Nothing is written unless both can be.
 */
import { inputError, q } from "../util/errors.ts";
import { exists, writeFileAtomic } from "../util/files.ts";
import { writeSecretFile } from "../util/secret_file.ts";
import { NAME_RE } from "../util/user.ts";
import { generateKeyPair } from "./keys.ts";

export type KeyKind = "user" | "node";

export interface KeygenInput {
  kind: KeyKind;
  name: string;
  email: string;
  outDir: string;
  /** undefined or "" writes the secret key unprotected. */
  passphrase?: string;
}

export interface KeygenOutput {
  kind: KeyKind;
  secretKey: string;
  publicKey: string;
  fingerprint: string;
  protected: boolean;
}

const EMAIL_RE = /^[^\s@<>]+@[^\s@<>]+$/;

/** Everything that can fail before a key exists; the CLI runs it before asking for a passphrase. */
export async function checkKeygenInput(
  input: Pick<KeygenInput, "name" | "email" | "outDir">,
): Promise<void> {
  if (!NAME_RE.test(input.name)) {
    throw inputError(`invalid key name ${q(input.name)}`, {
      hint: "use letters, digits, '.', '_' and '-' (it becomes the file name)",
    });
  }
  if (!EMAIL_RE.test(input.email)) throw inputError(`invalid e-mail address ${q(input.email)}`);
  const paths = keyPaths(input.outDir, input.name);
  for (const path of [paths.secretKey, paths.publicKey]) {
    if (await exists(path)) {
      throw inputError(`cannot write ${q(path)}: it already exists`, {
        hint: "sealbatch never overwrites keys; move the old pair away or choose another --name",
      });
    }
  }
}

export function keyPaths(outDir: string, name: string): { secretKey: string; publicKey: string } {
  return { secretKey: `${outDir}/${name}.sec.asc`, publicKey: `${outDir}/${name}.pub.asc` };
}

export async function writeKeyPair(input: KeygenInput): Promise<KeygenOutput> {
  await checkKeygenInput(input);
  const paths = keyPaths(input.outDir, input.name);
  const key = await generateKeyPair({
    name: input.name,
    email: input.email,
    comment: input.kind === "node" ? "sealbatch node key" : "sealbatch user key",
    ...(input.passphrase ? { passphrase: input.passphrase } : {}),
  });
  await Deno.mkdir(input.outDir, { recursive: true });
  await writeSecretFile(paths.secretKey, key.privateArmored);
  try {
    await writeFileAtomic(paths.publicKey, key.publicArmored, { mode: 0o644 });
  } catch (err) {
    await Deno.remove(paths.secretKey).catch(() => {});
    throw err;
  }
  return {
    kind: input.kind,
    ...paths,
    fingerprint: key.fingerprint.toUpperCase(),
    protected: Boolean(input.passphrase),
  };
}
