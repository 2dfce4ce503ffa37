import assert from "node:assert/strict";
import { limit, matchDirectories } from "../../src/run/cohort.ts";
import { tempDir } from "../_helpers/cli.ts";

Deno.test("--each matches directories only, sorted, per path segment", async () => {
  await using dir = await tempDir();
  for (const d of ["inputs/p02", "inputs/p01", "inputs/p10", "inputs/.hidden", "other/p03"]) {
    await Deno.mkdir(`${dir.path}/${d}`, { recursive: true });
  }
  await Deno.writeTextFile(`${dir.path}/inputs/p04`, "a file, not an input directory");
  assert.deepEqual(
    await matchDirectories("inputs/*", dir.path),
    ["p01", "p02", "p10"].map((n) => `${dir.path}/inputs/${n}`),
  );
  assert.deepEqual(
    await matchDirectories("*/p0[13]", dir.path),
    [`${dir.path}/inputs/p01`, `${dir.path}/other/p03`],
  );
  assert.deepEqual(await matchDirectories(`${dir.path}/inputs/p1?`), [`${dir.path}/inputs/p10`]);
  await assert.rejects(matchDirectories("nothing/*", dir.path), /matches no directory/);
  await assert.rejects(matchDirectories("inputs/[ab", dir.path), /unclosed/);
});

Deno.test("the cohort gate never lets more than N jobs through at once", async () => {
  const gate = limit(3);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 10 }, (_, i) =>
    gate(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      running--;
    })));
  assert.equal(peak, 3);
  assert.equal(order.length, 10);
  // A failing job frees its slot.
  await assert.rejects(gate(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await gate(() => Promise.resolve(42)), 42);
});
