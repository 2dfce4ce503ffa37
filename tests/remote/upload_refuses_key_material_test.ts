/**
 * Uploads refuse key material: by name (`*.key`, `id_ed25519`) before any
 * byte moves, and by content (private PEM, OpenPGP secret key blocks), also
 * when the marker straddles the 1 MiB read boundary deep inside a large
 * file; nothing is left on the remote side. A near-miss is uploaded.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { Transfers } from "../../src/remote/transfer.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, siteEnv } from "./_site.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** `size` bytes of zeros with `text` placed at `at`. */
function withText(size: number, at: number, text: string): Uint8Array {
  const data = new Uint8Array(size);
  data.set(enc(text), at);
  return data;
}

Deno.test({
  name: "upload refuses key material by name and by content, across chunk boundaries",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir();
    await using site = await RemoteSite.connect(connection(env));
    await using transfers = await Transfers.open(site);
    const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("keys")}`;
    const refused = async (name: string, data: Uint8Array, why: RegExp) => {
      await Deno.writeFile(`${tmp.path}/${name}`, data);
      await assert.rejects(
        transfers.upload(`${tmp.path}/${name}`, remoteDir),
        (err) =>
          err instanceof SealbatchError && err.kind === "refused" && why.test(err.message) &&
          /looks like key material/.test(err.message),
      );
    };
    try {
      await refused("site.key", enc("anything"), /file name/);
      await refused("id_ed25519", enc("anything"), /file name/);
      const mib = 1 << 20;
      // Straddles the first 1 MiB boundary / sits deep in the third MiB.
      await refused(
        "a.bin",
        withText(3 * mib, mib - 7, "-----BEGIN OPENSSH PRIVATE KEY-----"),
        /PRIVATE KEY-----/,
      );
      await refused(
        "b.asc",
        withText(3 * mib, 2 * mib + 12345, "-----BEGIN PGP PRIVATE KEY BLOCK-----"),
        /PRIVATE KEY BLOCK-----/,
      );
      await refused(
        "c.pem.txt",
        withText(4096, 10, "-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        /PRIVATE KEY-----/,
      );
      const left = await site.login.exec(`ls -A ${remoteDir} 2>/dev/null`);
      assert.equal(left.stdout, "", "nothing was left on the site");
      // Public keys and the words alone are fine.
      await Deno.writeFile(
        `${tmp.path}/ok.txt`,
        withText(2 * mib, mib - 5, "-----BEGIN PUBLIC KEY----- PRIVATE KEY --"),
      );
      assert.equal((await transfers.upload(`${tmp.path}/ok.txt`, remoteDir)).size, 2 * mib);
    } finally {
      await site.login.exec(`rm -rf -- ${remoteDir}`);
    }
  },
});
