import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { selfCommand } from "../../src/util/self.ts";
import { exec } from "../../src/util/exec.ts";
import { ROOT, tempDir } from "../_helpers/cli.ts";
import { buildBundle } from "../build/bundle_helper.ts";

/** Run the words + --version from an unrelated directory; returns stdout. */
async function version(words: string[], cwd: string): Promise<string> {
  const [program, ...args] = words;
  const out = await exec(program!, [...args, "--version"], { cwd, what: "running self" });
  return out.text.trim();
}

Deno.test("selfCommand of a checkout runs main.ts with its deno.json and the shipped flags", async () => {
  await using dir = await tempDir();
  const words = selfCommand({ mainModule: new URL(`file://${ROOT}/main.ts`).href });
  assert.deepEqual(words.slice(1, 5), ["run", "-q", "--config", `${ROOT}/deno.json`]);
  assert.ok(words.includes("--no-prompt"));
  assert.ok(!words.some((w) => w === "-A" || w === "--allow-all"));
  assert.equal(words.at(-1), `${ROOT}/main.ts`);
  assert.equal((await version(words, dir.path)).split(" ")[0], denoJson.version);
});

Deno.test("selfCommand of the bundle runs it without any deno.json", async () => {
  await using dir = await tempDir();
  const bundle = await buildBundle(`${dir.path}/dist`);
  // A deno.json in the working directory must not be picked up.
  await Deno.writeTextFile(`${dir.path}/deno.json`, '{"imports":{"commander":"./nothing.js"}}');
  const words = selfCommand({ mainModule: new URL(`file://${bundle}`).href });
  assert.ok(words.includes("--no-config"));
  assert.equal(words.at(-1), bundle);
  assert.equal((await version(words, dir.path)).split(" ")[0], denoJson.version);
});

Deno.test("selfCommand of a compiled binary is the binary itself", () => {
  assert.deepEqual(
    selfCommand({
      execPath: "/opt/sealbatch/bin/sealbatch",
      mainModule: "file:///tmp/deno-compile-sealbatch/main.ts",
    }),
    ["/opt/sealbatch/bin/sealbatch"],
  );
  assert.deepEqual(
    selfCommand({ execPath: "/usr/bin/deno", mainModule: "file:///tmp/deno-compile-x/main.ts" }),
    ["/usr/bin/deno"],
  );
});
