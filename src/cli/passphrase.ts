/**
 * Passphrases for secret keys: from `--passphrase-file` (first line, file
 * must be mode 0600), else asked on the terminal without echo. Never from
 * argv or the environment.
 */
import { inputError, q, SealbatchError } from "../util/errors.ts";
import { readSecretFile } from "../util/secret_file.ts";
import type { PassphraseSource } from "../pgp/keys.ts";
import { warn } from "./output.ts";

async function readPassphraseFile(path: string): Promise<string> {
  const bytes = await readSecretFile(path, { label: "passphrase file", maxBytes: 4096 });
  const line = new TextDecoder().decode(bytes).split(/\r?\n/, 1)[0] ?? "";
  if (line === "") throw inputError(`passphrase file ${q(path)} is empty`);
  return line;
}

/** Read one line from the terminal with echo off; Ctrl-C and Ctrl-D abort. */
async function promptHidden(prompt: string): Promise<string> {
  const enc = new TextEncoder();
  const bytes: number[] = [];
  const buf = new Uint8Array(64);
  // Echo goes off before the prompt shows: what is typed the moment it appears stays hidden.
  Deno.stdin.setRaw(true);
  try {
    await Deno.stderr.write(enc.encode(prompt));
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) throw inputError("no passphrase entered (end of input)");
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
        if (b === 0x03) throw new SealbatchError("interrupted", "passphrase entry cancelled");
        if (b === 0x04 && bytes.length === 0) throw inputError("no passphrase entered");
        if (b === 0x7f || b === 0x08) {
          // Drop one whole UTF-8 character: continuation bytes first.
          while (bytes.length > 0 && ((bytes.pop() ?? 0) & 0xc0) === 0x80) { /* keep popping */ }
        } else if (b >= 0x20) bytes.push(b);
      }
    }
  } finally {
    buf.fill(0);
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
}

const onTerminal = () => Deno.stdin.isTerminal() && Deno.stderr.isTerminal();

/** For commands that use a protected key. */
export function passphraseSource(file: string | undefined): PassphraseSource {
  return async (label) => {
    if (file !== undefined) return await readPassphraseFile(file);
    if (!onTerminal()) {
      throw inputError(`cannot unlock ${label}: a passphrase is needed and there is no terminal`, {
        hint: "give --passphrase-file FILE (mode 0600, passphrase on the first line)",
      });
    }
    return await promptHidden(`Passphrase for ${label}: `);
  };
}

/**
 * For keygen: the file's passphrase, or one asked twice on the terminal
 * (empty = unprotected), or none without a terminal (with a warning).
 */
export async function newPassphrase(file: string | undefined): Promise<string | undefined> {
  if (file !== undefined) return await readPassphraseFile(file);
  if (!onTerminal()) {
    warn("no terminal: the secret key is written WITHOUT a passphrase (file mode 0600 only)");
    return undefined;
  }
  const first = await promptHidden("Passphrase for the new secret key (empty for none): ");
  if (first === "") {
    warn("empty passphrase: the secret key is written unprotected (file mode 0600 only)");
    return undefined;
  }
  const second = await promptHidden("Repeat the passphrase: ");
  if (first !== second) throw inputError("the two passphrases differ; nothing was written");
  return first;
}
