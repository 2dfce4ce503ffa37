/**
 * Invariant (client side of "refusals before decryption"): `job seal`
 * unlocks the user's secret key only after every other check passed, so a
 * bad input is reported without asking for, or reading, the passphrase.
 * The node side is pinned by tests/node/refuses_*_test.ts and
 * tests/node/fetch_keys_*_test.ts.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { writeKeyPair } from "../../src/pgp/keygen.ts";

Deno.test("job seal: a missing or unreadable input is refused before the secret key is unlocked", async () => {
  await using dir = await tempDir();
  const d = dir.path;
  const user = await writeKeyPair({
    kind: "user",
    name: "u",
    email: "u@example.org",
    outDir: d,
    passphrase: "correct horse",
  });
  const node = await writeKeyPair({ kind: "node", name: "n", email: "n@example.org", outDir: d });
  await Deno.writeTextFile(`${d}/cmd.sh`, "#!/bin/bash\ntrue\n");
  const fifo = await new Deno.Command("mkfifo", { args: [`${d}/fifo`] }).output();
  assert.ok(fifo.success);
  for (
    const [input, why] of [[`${d}/missing`, /no such file/], [
      `${d}/fifo`,
      /not a regular file/,
    ]] as const
  ) {
    // No terminal and no --passphrase-file: unlocking would fail with its own message.
    const r = await runCli([
      "job",
      "seal",
      "--command",
      `${d}/cmd.sh`,
      "--node-key",
      node.publicKey,
      "--sign-key",
      user.secretKey,
      "--input",
      input,
      "--out",
      `${d}/job`,
    ]);
    assert.equal(r.code, 3, r.stderr);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /passphrase/);
  }
  await assert.rejects(Deno.lstat(`${d}/job`), Deno.errors.NotFound);
});
