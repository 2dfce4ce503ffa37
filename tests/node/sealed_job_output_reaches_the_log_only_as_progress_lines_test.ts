/**
 * The node side's filter itself: a job that seals its results gets pipes for
 * stdout and stderr, and only fixed progress lines, a sealbatch error line
 * and the hint right after it reach our stderr (the Slurm log). Whatever else
 * the script prints, on either stream, near-miss lines and overlong lines
 * included, is withheld.
 */
import assert from "node:assert/strict";
import { fixture, runNode, seal } from "./_fixture.ts";

Deno.test("a sealed-results job's output reaches the log only as progress lines", async () => {
  await using f = await fixture();
  const long = "sealbatch: job started" + " ".repeat(5000);
  const job = await seal(f, "job", {
    results: "output.results.img",
    command: {
      text: `#!/bin/bash
echo ran >> '${f.marker}'
echo 'sealbatch: keys fetched' >&2
echo 'plain stdout with data-4711'
echo 'hint: a hint without an error, data-4712' >&2
echo 'sealbatch: error: cannot open "input.img": it failed' >&2
echo 'hint: a hint after an error' >&2
echo 'sealbatch: keys fetched and data-4713' >&2
echo 'sealbatch: job ended with status 0'
printf '%s\\n' '${long}' >&2
printf 'sealbatch: results sealed'
`,
    },
  });
  const res = await runNode(f, { script: job.runScript });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, "");
  const lines = res.stderr.trim().split("\n");
  // Two pipes: the order between stdout's and stderr's lines is not kept.
  const passed = lines.filter((l) => !/verified|receipt written/.test(l));
  assert.deepEqual(
    passed.toSorted(),
    [
      "sealbatch: keys fetched",
      'sealbatch: error: cannot open "input.img": it failed',
      "hint: a hint after an error",
      "sealbatch: job ended with status 0",
      "sealbatch: results sealed",
    ].toSorted(),
  );
  assert.doesNotMatch(res.stderr, /data-47/);
});

Deno.test("a job sealed by hand without results writes where its script says", async () => {
  await using f = await fixture();
  const job = await seal(f);
  const res = await runNode(f, { script: job.runScript });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^job output$/m);
});
