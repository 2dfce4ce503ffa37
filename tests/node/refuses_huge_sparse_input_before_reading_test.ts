/**
 * A huge sparse file in place of an input (8 TiB of holes, a few blocks on
 * disk): hashing it would read zeros for hours, copying it would fill the
 * node's memory. The node bounds every input by the room in its private
 * storage, where the verified copy goes, and refuses from the file's size
 * before reading a byte: exit 4, one line, nothing run.
 */
import assert from "node:assert/strict";
import { assertRefused, fixture, replaceInput, runNode, sealWithInput } from "./_fixture.ts";

Deno.test("a huge sparse input is refused from its size, before it is read", async () => {
  await using f = await fixture();
  const job = await sealWithInput(f);
  await replaceInput(job.input, async (p) => {
    const file = await Deno.open(p, { write: true, createNew: true, mode: 0o600 });
    await file.truncate(8 * 1024 ** 4);
    file.close();
  });
  assert.ok((await Deno.stat(job.input)).size === 8 * 1024 ** 4);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(
    f,
    res,
    /input "data\.img" of job .* does not fit the node's work directory \(8796093022208 bytes, \d+ free\)/,
  );
  // Nothing was copied into the node's private storage.
  assert.deepEqual([...Deno.readDirSync(f.work)], []);
});
