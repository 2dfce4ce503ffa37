/** A throw-away GnuPG home (mode 0700) for interop tests with the real gpg. */
import { exec } from "../../src/util/exec.ts";
import type { ExecResult } from "../../src/util/exec.ts";

export interface Gpg {
  home: string;
  /** Run gpg --batch with this home; `okCodes` as in exec. */
  run(
    args: string[],
    opts?: { stdin?: string | Uint8Array; okCodes?: number[] },
  ): Promise<ExecResult>;
  /** Generate a key without passphrase; returns its fingerprint. */
  genKey(uid: string, kind: "rsa" | "ed25519"): Promise<string>;
  exportPublic(fpr: string): Promise<string>;
  exportSecret(fpr: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function gpgHome(): Promise<Gpg> {
  const home = await Deno.makeTempDir({ prefix: "sealbatch-gnupg-" });
  await Deno.chmod(home, 0o700);
  const run: Gpg["run"] = (args, opts = {}) =>
    exec("gpg", ["--batch", "--no-tty", "--pinentry-mode", "loopback", ...args], {
      env: { GNUPGHOME: home },
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
      ...(opts.okCodes ? { okCodes: opts.okCodes } : {}),
    });
  const fingerprint = async (uid: string) => {
    const out = await run(["--with-colons", "--list-keys", uid]);
    const line = out.text.split("\n").find((l) => l.startsWith("fpr:"));
    return line!.split(":")[9]!;
  };
  return {
    home,
    run,
    async genKey(uid, kind) {
      if (kind === "rsa") {
        await run(["--passphrase", "", "--quick-gen-key", uid, "rsa3072", "default", "never"]);
        const fpr = await fingerprint(uid);
        await run(["--passphrase", "", "--quick-add-key", fpr, "rsa3072", "encr", "never"]);
        return fpr;
      }
      await run(["--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"]);
      const fpr = await fingerprint(uid);
      await run(["--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never"]);
      return fpr;
    },
    async exportPublic(fpr) {
      return (await run(["--armor", "--export", fpr])).text;
    },
    async exportSecret(fpr) {
      return (await run(["--passphrase", "", "--armor", "--export-secret-keys", fpr])).text;
    },
    async [Symbol.asyncDispose]() {
      await exec("gpgconf", ["--kill", "all"], { env: { GNUPGHOME: home }, okCodes: [0, 1, 2] })
        .catch(() => {});
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}
