import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { readPrivateKeyFile } from "../../src/pgp/keys.ts";

const keygen = (out: string, ...extra: string[]) =>
  runCli([
    "keygen",
    "--kind",
    "user",
    "--name",
    "alice",
    "--email",
    "a@example.org",
    "--out",
    out,
    ...extra,
  ]);

Deno.test("keygen writes NAME.sec.asc 0600 and NAME.pub.asc, unprotected with a warning without a terminal", async () => {
  await using dir = await tempDir();
  const res = await keygen(`${dir.path}/keys`);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /warning: no terminal: the secret key is written WITHOUT a passphrase/);
  assert.equal((Deno.statSync(`${dir.path}/keys/alice.sec.asc`).mode ?? 0) & 0o777, 0o600);
  assert.match(
    await Deno.readTextFile(`${dir.path}/keys/alice.pub.asc`),
    /^-----BEGIN PGP PUBLIC KEY BLOCK-----/,
  );
  const key = await readPrivateKeyFile(`${dir.path}/keys/alice.sec.asc`);
  assert.equal(key.keyPacket.version, 4);
});

Deno.test("keygen never overwrites an existing key and leaves it untouched", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/keys`);
  await Deno.writeTextFile(`${dir.path}/keys/alice.pub.asc`, "old");
  const res = await keygen(`${dir.path}/keys`);
  assert.equal(res.code, 3);
  assertOneLineError(res.stderr);
  assert.match(
    res.stderr,
    /alice\.pub\.asc": it already exists/,
  );
  assert.equal(await Deno.readTextFile(`${dir.path}/keys/alice.pub.asc`), "old");
  assert.ok(!(await Deno.stat(`${dir.path}/keys/alice.sec.asc`).then(() => true, () => false)));
});

Deno.test("a key protected with --passphrase-file seals only with the passphrase", async () => {
  await using dir = await tempDir();
  const d = dir.path;
  await Deno.writeTextFile(`${d}/pw`, "correct horse\n", { mode: 0o600 });
  await Deno.writeTextFile(`${d}/wrong`, "wrong horse\n", { mode: 0o600 });
  assert.equal((await keygen(`${d}/keys`, "--passphrase-file", `${d}/pw`)).code, 0);
  const node = await runCli([
    "keygen",
    "--kind",
    "node",
    "--name",
    "n",
    "--email",
    "n@example.org",
    "--out",
    `${d}/keys`,
  ]);
  assert.equal(node.code, 0, node.stderr);
  assert.ok(!(await Deno.readTextFile(`${d}/keys/alice.sec.asc`)).includes("correct horse"));
  await Deno.writeTextFile(`${d}/c.sh`, "echo hi\n");
  const seal = (out: string, ...extra: string[]) =>
    runCli([
      "job",
      "seal",
      "--command",
      `${d}/c.sh`,
      "--node-key",
      `${d}/keys/n.pub.asc`,
      "--sign-key",
      `${d}/keys/alice.sec.asc`,
      "--out",
      `${d}/${out}`,
      "--user",
      "alice",
      ...extra,
    ]);

  const none = await seal("j0");
  assert.equal(none.code, 3);
  assertOneLineError(none.stderr);
  assert.match(none.stderr, /a passphrase is needed and there is no terminal/);

  const wrong = await seal("j1", "--passphrase-file", `${d}/wrong`);
  assert.equal(wrong.code, 3);
  assert.match(wrong.stderr, /wrong passphrase/);
  assert.ok(!wrong.stderr.includes("wrong horse"));

  const ok = await seal("j2", "--passphrase-file", `${d}/pw`);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(Deno.statSync(`${d}/j2/run.sh.sig`).isFile);
  for (const out of ["j0", "j1"]) {
    assert.ok(!(await Deno.stat(`${d}/${out}`).then(() => true, () => false)), `${out} created`);
  }
});
