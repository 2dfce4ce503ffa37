/**
 * A run.sh made the reference way, by hand with gpg: `gpg --armor --encrypt`
 * to the node key (made by `keygen --kind node`), wrapped as in the tutorial,
 * `gpg --detach-sign` with a gpg-generated RSA user key.
 */
import assert from "node:assert/strict";
import { gpgHome } from "../pgp/_gpg.ts";
import { assertRefused, fixture, runNode, runs } from "./_fixture.ts";
import type { Fixture } from "./_fixture.ts";

async function referenceJob(f: Fixture, gpg: Awaited<ReturnType<typeof gpgHome>>) {
  const fpr = await gpg.genKey("Ref User <ref@example.org>", "rsa");
  await Deno.writeTextFile(`${f.signers}/${f.user}.asc`, await gpg.exportPublic(fpr));
  await gpg.run(["--import", f.nodePub]);
  const command = `#!/bin/bash\necho ran >> '${f.marker}'\necho "reference job"\n`;
  const encrypted = await gpg.run([
    "--armor",
    "--trust-model",
    "always",
    "--recipient",
    "n@example.org",
    "--encrypt",
  ], { stdin: command });
  const dir = `${f.dir}/ref`;
  await Deno.mkdir(dir);
  // The tutorial's Listing 1: shebang, empty line, heredoc, message, EOF without newline.
  await Deno.writeTextFile(
    `${dir}/run.sh`,
    `#!/bin/bash\n\n/usr/bin/decrypt_and_execute <<EOF\n${encrypted.text}EOF`,
  );
  await gpg.run(["--local-user", fpr, "--detach-sign", "-o", `${dir}/run.sh.sig`, `${dir}/run.sh`]);
  // Exact modes: a parallel test may run with umask 0, and the node refuses what others can write.
  for (
    const [path, mode] of [[dir, 0o755], [`${dir}/run.sh`, 0o644], [
      `${dir}/run.sh.sig`,
      0o644,
    ]] as const
  ) {
    await Deno.chmod(path, mode);
  }
  return `${dir}/run.sh`;
}

Deno.test("a gpg-made reference run.sh is refused by default (no manifest)", async () => {
  await using f = await fixture();
  await using gpg = await gpgHome();
  const script = await referenceJob(f, gpg);
  const res = await runNode(f, { script });
  await assertRefused(f, res, /no sealbatch manifest/);
});

Deno.test("a gpg-made reference run.sh runs with accept_unmanifested: true", async () => {
  await using f = await fixture({ configText: "work_dir: work\naccept_unmanifested: true\n" });
  await using gpg = await gpgHome();
  const script = await referenceJob(f, gpg);
  const res = await runNode(f, { script });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, "reference job\n");
  assert.match(res.stderr, /job without manifest accepted/);
  assert.equal(await runs(f), 1);
});
