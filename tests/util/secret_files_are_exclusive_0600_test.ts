import assert from "node:assert/strict";
import { readSecretFile, writeSecretFile } from "../../src/util/secret_file.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";

Deno.test("secret files are created with mode 0600 even under umask 000", async () => {
  await using dir = await tempDir();
  const old = Deno.umask(0);
  try {
    await writeSecretFile(`${dir.path}/k.key`, "secret");
  } finally {
    Deno.umask(old);
  }
  const info = await Deno.stat(`${dir.path}/k.key`);
  assert.equal((info.mode ?? 0) & 0o777, 0o600);
});

Deno.test("secret files are never overwritten", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/k.key`, "old");
  await assert.rejects(
    () => writeSecretFile(`${dir.path}/k.key`, "new"),
    (e: unknown) => e instanceof SealbatchError && e.kind === "input",
  );
  assert.equal(await Deno.readTextFile(`${dir.path}/k.key`), "old");
});

Deno.test("a group-readable key file is refused with a chmod hint", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/k.key`;
  await Deno.writeTextFile(path, "x");
  await Deno.chmod(path, 0o640);
  await assert.rejects(
    () => readSecretFile(path),
    (e: unknown) => e instanceof SealbatchError && /chmod 600/.test(e.hint ?? ""),
  );
});

Deno.test("a directory given as key file is refused", async () => {
  await using dir = await tempDir();
  await assert.rejects(() => readSecretFile(dir.path), /not a regular file/);
});
