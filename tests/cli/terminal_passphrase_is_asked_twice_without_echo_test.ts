/**
 * On a real terminal (a pty from util-linux `script`), keygen asks for the
 * passphrase twice with echo off, the key is written protected, and the
 * passphrase never appears on the terminal; two different entries write nothing.
 */
import assert from "node:assert/strict";
import * as openpgp from "openpgp";
import { CLI_ARGS, tempDir } from "../_helpers/cli.ts";
import { hasProgram } from "../../src/util/exec.ts";

const PASSPHRASE = "correct horse battery";

/** Run `args` under a pty, answering each prompt (matched in order) with its line. */
async function onTerminal(
  args: string[],
  answers: [RegExp, string][],
): Promise<{ code: number; screen: string }> {
  const quoted = [Deno.execPath(), ...CLI_ARGS, ...args]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", quoted, "/dev/null"],
    env: { NO_COLOR: "1", TERM: "dumb" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let screen = "";
  const timeout = setTimeout(() => child.kill(), 60_000);
  try {
    for (const [prompt, answer] of answers) {
      // Typed only once the prompt is up: echo is off from then on.
      while (!prompt.test(screen)) {
        const { value, done } = await reader.read();
        if (done) break;
        screen += new TextDecoder().decode(value);
      }
      await writer.write(new TextEncoder().encode(`${answer}\r`));
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      screen += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timeout);
    await writer.close().catch(() => {});
  }
  const status = await child.status;
  await child.stderr.cancel();
  return { code: status.code, screen };
}

const HAS_SCRIPT = await hasProgram("script");

Deno.test({
  name: "keygen on a terminal asks twice without echo and writes a protected key",
  ignore: !HAS_SCRIPT,
  async fn() {
    await using dir = await tempDir("sealbatch-tty");
    const r = await onTerminal(
      [
        "keygen",
        "--kind",
        "user",
        "--name",
        "alice",
        "--email",
        "a@example.org",
        "--out",
        dir.path,
      ],
      [[/Passphrase for the new secret key/, PASSPHRASE], [/Repeat the passphrase/, PASSPHRASE]],
    );
    assert.equal(r.code, 0, r.screen);
    assert.ok(!r.screen.includes(PASSPHRASE), `the passphrase was echoed:\n${r.screen}`);
    const key = await openpgp.readPrivateKey({
      armoredKey: await Deno.readTextFile(`${dir.path}/alice.sec.asc`),
    });
    assert.equal(key.isDecrypted(), false);
    await assert.rejects(() => openpgp.decryptKey({ privateKey: key, passphrase: "wrong" }));
    const unlocked = await openpgp.decryptKey({ privateKey: key, passphrase: PASSPHRASE });
    assert.ok(unlocked.isDecrypted());
  },
});

Deno.test({
  name: "keygen on a terminal: two different passphrases write nothing",
  ignore: !HAS_SCRIPT,
  async fn() {
    await using dir = await tempDir("sealbatch-tty");
    const r = await onTerminal(
      ["keygen", "--kind", "user", "--name", "bob", "--email", "b@example.org", "--out", dir.path],
      [[/Passphrase for the new secret key/, PASSPHRASE], [/Repeat the passphrase/, "other"]],
    );
    assert.equal(r.code, 3, r.screen);
    assert.match(r.screen, /sealbatch: error: the two passphrases differ; nothing was written/);
    assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  },
});
