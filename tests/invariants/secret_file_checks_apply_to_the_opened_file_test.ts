/**
 * Invariant: the checks on a key file (regular, owner-only, size cap) hold
 * for the bytes actually read, even when the path is swapped while sealbatch
 * reads it. A second process keeps replacing the key file (atomic rename)
 * with a 2 MiB one; no read may ever return more than the cap.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { readSecretFile } from "../../src/util/secret_file.ts";
import { readTextCapped } from "../../src/util/files.ts";

Deno.test("a key file swapped for a larger one between check and read is never read past the cap", async () => {
  await using dir = await tempDir();
  const [k, small, big] = ["k", "small", "big"].map((n) => `${dir.path}/${n}`) as [
    string,
    string,
    string,
  ];
  await Deno.writeFile(small, new Uint8Array(10), { mode: 0o600 });
  await Deno.writeFile(big, new Uint8Array(2 << 20), { mode: 0o600 });
  await Deno.copyFile(small, k);
  await Deno.chmod(k, 0o600);
  // Bounded: the swapper stops after 20 s even if this test dies.
  const swapper = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const [a, b, k] = ${JSON.stringify([small, big, k])}; const t = k + ".t";
       const end = Date.now() + 20000;
       while (Date.now() < end) for (const s of [a, b]) {
         try { Deno.removeSync(t); } catch { /* first round */ }
         Deno.linkSync(s, t); Deno.renameSync(t, k);
       }`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 4000; i++) {
      for (
        const read of [() => readSecretFile(k, { maxBytes: 1024 }), () => readTextCapped(k, 1024)]
      ) {
        try {
          const got = await read();
          assert.ok(
            got.length <= 1024,
            `read ${got.length} bytes past a 1024-byte cap (round ${i})`,
          );
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          assert.match(String(err), /larger than 1024 bytes/);
        }
      }
    }
  } finally {
    swapper.kill();
    await swapper.status;
  }
});
