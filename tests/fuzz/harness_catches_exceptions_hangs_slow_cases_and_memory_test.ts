/**
 * The fuzz harness itself: cases are reproducible from the seed, and a
 * foreign exception, a multi-line message, a wrong exit code, an endless
 * loop (the Worker is terminated and the run goes on), a slow case and a
 * case that holds 300 MiB are each reported as failures of their kind.
 */
import assert from "node:assert/strict";
import { makeCase, runFuzz } from "./_harness.ts";
import { CI_CASES, loadTarget, TARGET_NAMES } from "./_targets.ts";
import { MARK } from "./targets/selftest.ts";

Deno.test("a case is the same bytes for the same seed, and others for another seed", async () => {
  const target = await loadTarget("manifest");
  const a = Array.from({ length: 50 }, (_, i) => makeCase(target, 7, i));
  const b = Array.from({ length: 50 }, (_, i) => makeCase(target, 7, i));
  const c = Array.from({ length: 50 }, (_, i) => makeCase(target, 8, i));
  assert.deepEqual(a, b);
  assert.ok(a.some((x, i) => x.join() !== c[i]!.join()));
});

Deno.test("foreign exceptions, multi-line messages and wrong exit codes are failures", async () => {
  const r = await runFuzz({ target: "selftest-exception", seed: 1, cases: 200, maxFailures: 1000 });
  const kinds = new Set(r.failures.map((f) => f.kind));
  assert.deepEqual([...kinds].sort(), ["exception", "exit-code", "message"]);
  assert.equal(r.ok, 0);
  assert.equal(r.failures.length + (r.userErrors["3"] ?? 0), 200);
  assert.ok((r.userErrors["3"] ?? 0) > 0);
});

/** The case numbers of `target` whose input is the selftest's MARK. */
async function marked(target: string, cases: number): Promise<number[]> {
  const t = await loadTarget(target);
  return Array.from({ length: cases }, (_, i) => i).filter((i) =>
    makeCase(t, 1, i)[0] === MARK && makeCase(t, 1, i).length === 1
  );
}

Deno.test("an endless loop is a hang: the Worker is terminated and the other cases still run", async () => {
  const want = await marked("selftest-hang", 12);
  assert.ok(want.length > 0 && want.length < 12);
  const r = await runFuzz({ target: "selftest-hang", seed: 1, cases: 12, timeLimitMs: 300 });
  assert.deepEqual(r.failures.map((f) => [f.case, f.kind]), want.map((i) => [i, "hang"]));
  assert.equal(r.cases, 12);
});

Deno.test("a case over the time limit is slow; one holding 300 MiB breaks the memory bound", async () => {
  const slow = await runFuzz({ target: "selftest-slow", seed: 1, cases: 16, timeLimitMs: 200 });
  const wantSlow = await marked("selftest-slow", 16);
  assert.ok(wantSlow.length > 0);
  assert.deepEqual(slow.failures.map((f) => [f.case, f.kind]), wantSlow.map((i) => [i, "slow"]));
  // One case: each holds 300 MiB, several in a row only measure the machine.
  const [first] = await marked("selftest-memory", 16);
  assert.ok(first !== undefined);
  const memory = await runFuzz({ target: "selftest-memory", seed: 1, from: first, cases: 1 });
  assert.deepEqual(memory.failures.map((f) => [f.case, f.kind]), [[first, "memory"]]);
});

Deno.test("every target has CI cases, at least 10,000 in all", () => {
  for (const name of TARGET_NAMES) assert.ok((CI_CASES[name] ?? 0) > 0, name);
  const total = Object.values(CI_CASES).reduce((n, c) => n + c, 0);
  assert.ok(total >= 10_000, `${total} cases`);
});
