/**
 * The bytes that were hashed are the bytes the job uses: the node copies each
 * input into its private directory while hashing it, and hands the job the
 * copies ($SEALBATCH_INPUTS, 0600, the job user's). Here the shared input is
 * swapped after the check, as an attacker racing the node would; the job
 * still reads exactly the sealed bytes.
 */
import assert from "node:assert/strict";
import { fixture, runNode, sealWithInput } from "./_fixture.ts";

Deno.test("the job reads the node's verified copy; a swap of the shared file after the check is void", async () => {
  await using f = await fixture();
  const seen = `${f.dir}/seen`;
  const job = await sealWithInput(f, "job", "sealed bytes", {
    command: {
      text: `#!/bin/bash
set -e
# The swap, after the node's check: the shared input now holds other bytes.
printf 'swapped bytes' > "$PWD/data.img"
cat "$SEALBATCH_INPUTS/data.img" > '${seen}'
stat -c '%a' "$SEALBATCH_INPUTS/data.img" >> '${seen}'
case "$SEALBATCH_INPUTS" in "$SEALBATCH_WORK_DIR"/*) echo private >> '${seen}';; esac
echo ran >> '${f.marker}'
`,
    },
  });
  const res = await runNode(f, { script: job.runScript });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await Deno.readTextFile(job.input), "swapped bytes");
  assert.equal(await Deno.readTextFile(seen), "sealed bytes600\nprivate\n");
  // The copies went with the private directory.
  assert.deepEqual([...Deno.readDirSync(f.work)], []);
});
