/**
 * `background` children (a cohort's mkfs and cryptsetup) run niced, so the
 * steps waiting on the site keep their turn; a missing program is still one
 * clear error, not nice's exit status.
 */
import assert from "node:assert/strict";
import { exec } from "../../src/util/exec.ts";
import { SealbatchError } from "../../src/util/errors.ts";

const niceness = async (background: boolean) =>
  Number((await exec("bash", ["-c", "cut -d' ' -f19 /proc/$$/stat"], { background })).text);

Deno.test("background children run at a lower CPU priority than the others", async () => {
  const base = await niceness(false);
  assert.equal(await niceness(true), Math.min(19, base + 10));
});

Deno.test("a background program that is not installed is one clear error", async () => {
  await assert.rejects(
    exec("sealbatch-no-such-program", [], { background: true, what: "cannot seal" }),
    (err) =>
      err instanceof SealbatchError && err.kind === "tool" &&
      /^cannot seal: cannot run "sealbatch-no-such-program"$/.test(err.message),
  );
});
