import assert from "node:assert/strict";
import { RunState } from "../../src/run/state.ts";
import { tempDir } from "../_helpers/cli.ts";

Deno.test("a run resumed after an interruption skips the steps that finished", async () => {
  await using dir = await tempDir();
  const calls: string[] = [];
  const first = await RunState.open(dir.path, "job-1");
  await first.step("seal", () => Promise.resolve(calls.push("seal") && { sha: "abc" }));
  await assert.rejects(
    first.step("upload", () => Promise.reject(new Error("connection cut"))),
    /connection cut/,
  );

  const second = await RunState.open(dir.path, "job-1");
  const sealed = await second.step(
    "seal",
    () => Promise.resolve(calls.push("seal again") && { sha: "zzz" }),
  );
  await second.step("upload", () => Promise.resolve(calls.push("upload")));
  assert.deepEqual(calls, ["seal", "upload"]);
  assert.deepEqual(sealed, { sha: "abc" });
  assert.deepEqual(second.timings().map((t) => [t.name, t.resumed]), [["seal", true], [
    "upload",
    false,
  ]]);
  assert.equal(((await Deno.stat(second.path)).mode ?? 0) & 0o777, 0o600);
});

Deno.test("a state file of another job is refused, not silently reused", async () => {
  await using dir = await tempDir();
  const a = await RunState.open(dir.path, "job-a");
  await a.step("seal", () => Promise.resolve(1));
  await assert.rejects(RunState.open(dir.path, "job-b"), /belongs to another job/);
});
