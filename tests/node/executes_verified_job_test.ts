import assert from "node:assert/strict";
import { signDetached } from "../../src/pgp/sign.ts";
import { readPrivateKeyFile } from "../../src/pgp/keys.ts";
import { fixture, runNode, runs, seal } from "./_fixture.ts";

Deno.test("a verified job runs once, streams its output and leaves no plaintext in work_dir", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const res = await runNode(f, { script: job.runScript });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, "job output\n");
  assert.match(res.stderr, /verified \(signed by [0-9A-F]{40}\), running as /);
  assert.equal(await runs(f), 1);
  assert.deepEqual([...Deno.readDirSync(f.work)], [], "decrypted script not wiped");
  assert.ok(Deno.statSync(`${f.state}/nonces/${job.manifest.nonce}`).isFile);
});

Deno.test("the job's exit status becomes decrypt-and-execute's exit status", async () => {
  await using f = await fixture();
  const job = await seal(f, "job", {
    command: { text: "#!/bin/bash\necho failing >&2\nexit 7\n" },
  });
  const res = await runNode(f, { script: job.runScript });
  assert.equal(res.code, 7);
  assert.match(res.stderr, /failing/);
});

Deno.test("run.sh is accepted without the empty line and with a trailing newline", async () => {
  await using f = await fixture();
  const key = await readPrivateKeyFile(f.userSec);
  for (
    const [name, edit] of [
      ["no-empty-line", (t: string) => t.replace("#!/bin/bash\n\n", "#!/bin/bash\n")],
      ["trailing-newline", (t: string) => `${t}\n`],
    ] as const
  ) {
    const job = await seal(f, name);
    const text = edit(await Deno.readTextFile(job.runScript));
    const bytes = new TextEncoder().encode(text);
    await Deno.writeFile(job.runScript, bytes);
    await Deno.writeFile(job.signature, await signDetached(bytes, key, "user key"));
    const res = await runNode(f, { script: job.runScript });
    assert.equal(res.code, 0, `${name}: ${res.stderr}`);
  }
  assert.equal(await runs(f), 2);
});

Deno.test("outside Slurm an empty stdin means the signed script's own message is used", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const res = await runNode(f, { script: job.runScript, stdin: "" });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await runs(f), 1);
});
