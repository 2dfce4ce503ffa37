import { readPrivateKeyFile } from "../../src/pgp/keys.ts";
import { signDetached } from "../../src/pgp/sign.ts";
import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";
import type { Fixture } from "./_fixture.ts";

/** Rewrite run.sh and sign it again with the user's key: only the armor is wrong. */
async function resign(f: Fixture, path: string, edit: (t: string) => string): Promise<void> {
  const bytes = new TextEncoder().encode(edit(await Deno.readTextFile(path)));
  await Deno.writeFile(path, bytes);
  const key = await readPrivateKeyFile(f.userSec);
  await Deno.writeFile(`${path}.sig`, await signDetached(bytes, key, "user key"));
}

Deno.test("a signed run.sh whose armored message is truncated is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  await resign(f, job.runScript, (t) => t.replace(/-----END PGP MESSAGE-----\n/, ""));
  const res = await runNode(f, { script: job.runScript, stdin: "" });
  await assertRefused(f, res, /armored message is truncated/);
});

Deno.test("a signed run.sh whose armor body is garbled is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  await resign(f, job.runScript, (t) => {
    const lines = t.split("\n");
    lines.splice(5, 2, "!!!! not base64 !!!!");
    return lines.join("\n");
  });
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /cannot read the job message/);
});

Deno.test("garbage on stdin is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const res = await runNode(f, { script: job.runScript, stdin: "-----BEGIN PGP MESSAGE-----\nxx" });
  await assertRefused(f, res, /message on stdin is not the one/);
});

Deno.test("a truncated signature file is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const sig = await Deno.readFile(job.signature);
  await Deno.writeFile(job.signature, sig.subarray(0, 20));
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /unreadable signature|bad signature/);
});
