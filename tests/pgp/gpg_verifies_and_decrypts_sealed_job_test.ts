/** What `keygen` and `job seal` write is read by the real GnuPG 2.2, as the reference site does. */
import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { gpgHome } from "./_gpg.ts";

Deno.test("gpg --verify accepts run.sh.sig and gpg --decrypt (node key) opens the message", async () => {
  await using dir = await tempDir();
  await using gpg = await gpgHome();
  const d = dir.path;
  for (const kind of ["user", "node"]) {
    const res = await runCli([
      "keygen",
      "--kind",
      kind,
      "--name",
      kind,
      "--email",
      `${kind}@example.org`,
      "--out",
      `${d}/keys`,
    ]);
    assert.equal(res.code, 0, res.stderr);
  }
  await Deno.writeTextFile(`${d}/command.sh`, "#!/bin/bash\necho hello\n");
  const seal = await runCli([
    "job",
    "seal",
    "--command",
    `${d}/command.sh`,
    "--node-key",
    `${d}/keys/node.pub.asc`,
    "--sign-key",
    `${d}/keys/user.sec.asc`,
    "--out",
    `${d}/job`,
    "--user",
    "alice",
    "--job-id",
    "j1",
  ]);
  assert.equal(seal.code, 0, seal.stderr);

  await gpg.run(["--import", `${d}/keys/user.pub.asc`, `${d}/keys/node.sec.asc`]);
  const verify = await gpg.run([
    "--status-fd",
    "1",
    "--verify",
    `${d}/job/run.sh.sig`,
    `${d}/job/run.sh`,
  ]);
  assert.match(verify.text, /\[GNUPG:\] GOODSIG /);
  assert.match(verify.text, /\[GNUPG:\] VALIDSIG [0-9A-F]{40} .* 00 [0-9A-F]{40}/);

  const runSh = await Deno.readTextFile(`${d}/job/run.sh`);
  const message = runSh.slice(runSh.indexOf("-----BEGIN"), runSh.lastIndexOf("EOF"));
  const plain = await gpg.run(["--decrypt"], { stdin: message });
  const lines = plain.text.split("\n");
  assert.equal(lines[0], "#!/bin/bash");
  assert.match(lines[1]!, /^# sealbatch-manifest: \{"v":1,"job":"j1","nonce":"[0-9a-f]{32}",/);
  assert.equal(lines[2], "echo hello");
});
