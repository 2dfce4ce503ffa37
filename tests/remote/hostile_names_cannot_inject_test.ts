/** Remote command strings: single-quoting holds against hostile values; odd names are refused. */
import assert from "node:assert/strict";
import { remoteName, remotePath, sh } from "../../src/remote/quote.ts";
import { tempDir } from "../_helpers/cli.ts";
import { SealbatchError } from "../../src/util/errors.ts";

const HOSTILE = [
  "a'; touch PWNED; echo '",
  "$(touch PWNED)",
  "`touch PWNED`",
  "x\ntouch PWNED",
  "'\"'\"'; touch PWNED #",
  "--rf; touch PWNED",
  "\\'; touch PWNED; '",
];

Deno.test("sh() makes every hostile value exactly one word for bash", async () => {
  await using tmp = await tempDir();
  for (const value of HOSTILE) {
    const out = await new Deno.Command("bash", {
      args: ["-c", `printf '%s\\0' ${sh(value)}`],
      cwd: tmp.path,
      stdout: "piped",
    }).output();
    assert.ok(out.success);
    assert.equal(new TextDecoder().decode(out.stdout), value + "\0");
  }
  const entries = [...Deno.readDirSync(tmp.path)];
  assert.deepEqual(entries, [], "a hostile value created a file");
});

Deno.test("remote names and paths with shell or path tricks are refused", () => {
  for (const value of [...HOSTILE, "..", "a/b", ".hidden", "", "a b", "ü"]) {
    assert.throws(
      () => remoteName(value),
      (e: unknown) => e instanceof SealbatchError && e.kind === "input",
      value,
    );
  }
  assert.throws(() => remotePath("relative/dir"), /must be absolute/);
  assert.throws(() => remotePath("/home/x/../y"), /unexpected characters/);
  assert.equal(remotePath("/home/alice//jobs/"), "/home/alice/jobs");
  assert.equal(remoteName("run.sh.sig"), "run.sh.sig");
  assert.throws(() => sh("a\0b"), /NUL/);
});
