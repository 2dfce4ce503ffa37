/** `sealbatch keygen`: an OpenPGP key pair for a user (signing) or a node (decryption). */
import { Command, Option } from "@commander-js/extra-typings";
import type { KeyKind } from "../pgp/keygen.ts";
import { newPassphrase } from "./passphrase.ts";
import { note, result } from "./output.ts";

export function keygenCommand() {
  return new Command("keygen")
    .description(
      "generate an OpenPGP key pair (v4, curve25519) that GnuPG 2.2 reads:\n" +
        "DIR/NAME.sec.asc (mode 0600, never overwritten) and DIR/NAME.pub.asc",
    )
    .addOption(
      new Option("--kind <kind>", "user: signs jobs; node: decrypts them on the secure node")
        .choices(["user", "node"] as const).makeOptionMandatory(),
    )
    .requiredOption("--name <name>", "key name; also the file name")
    .requiredOption("--email <addr>", "e-mail address in the key's user id")
    .requiredOption("--out <dir>", "directory for the two files (created if missing)")
    .option(
      "--passphrase-file <file>",
      "protect the secret key with the first line of FILE (mode 0600) instead of asking",
    )
    .addHelpText(
      "after",
      `
On a terminal you are asked for a passphrase (twice; empty = unprotected).
Without a terminal and without --passphrase-file the key is written unprotected.
Node keys are usually unprotected: decrypt_and_execute runs unattended, as root.

Examples:
  sealbatch keygen --kind user --name alice --email alice@example.org --out ~/.sealbatch
  sealbatch keygen --kind node --name node01 --email root@node01 --out /etc/sealbatch
  sealbatch keygen --kind user --name ci --email ci@example.org --out keys --passphrase-file pw.txt`,
    )
    .action(async (opts) => {
      const { checkKeygenInput, writeKeyPair } = await import("../pgp/keygen.ts");
      await checkKeygenInput({ ...opts, outDir: opts.out });
      const passphrase = await newPassphrase(opts.passphraseFile);
      const out = await writeKeyPair({
        kind: opts.kind as KeyKind,
        name: opts.name,
        email: opts.email,
        outDir: opts.out,
        ...(passphrase !== undefined ? { passphrase } : {}),
      });
      result(
        [
          `${out.kind} key ${out.fingerprint}${out.protected ? "" : " (unprotected)"}`,
          `  secret: ${out.secretKey}`,
          `  public: ${out.publicKey}`,
        ].join("\n"),
        out,
      );
      const pub = out.publicKey.slice(out.publicKey.lastIndexOf("/") + 1);
      note(
        out.kind === "user"
          ? `next: give ${pub} to the site admins, who register it for your HPC account on the ` +
            `nodes; compare its fingerprint ${out.fingerprint} with theirs over a second channel ` +
            `(gpg --show-keys ${pub}); then set sign_key: ${out.secretKey} in your site profile`
          : `next: give ${pub} to the users (node.public_key in their site profiles); they ` +
            `compare its fingerprint ${out.fingerprint} with you over a second channel`,
      );
    });
}
