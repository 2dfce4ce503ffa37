/**
 * A run on a client without memory-backed storage with room stages plaintext
 * on disk (next to the job's state and the outputs) and says so, in its
 * progress and in its summary, as `data seal` does; with room in memory it
 * says nothing of the kind.
 */
import assert from "node:assert/strict";
import { runJob } from "../../src/run/run.ts";
import { memoryDir } from "./_memory.ts";
import { localProject } from "./_local.ts";

const none = `/run/user/${Deno.uid()}`;

Deno.test({
  name: "no memory-backed storage on the client: the run says it staged plaintext on disk",
  // Only where /run/user/UID is absent: XDG_RUNTIME_DIR is the one root this test controls.
  ignore: Deno.uid() !== 0 || (await Deno.stat(none).then(() => true, () => false)),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root });
    const saved = Deno.env.get("XDG_RUNTIME_DIR");
    const notes: string[] = [];
    try {
      Deno.env.set("XDG_RUNTIME_DIR", "/nonexistent");
      const s = await runJob(
        await p.input({ onEvent: (e) => e.phase === "note" && notes.push(e.detail ?? "") }),
      );
      assert.equal(s.exitCode, 0);
      assert.equal(s.warnings?.length, 2, JSON.stringify(s.warnings));
      assert.match(
        s.warnings![0]!,
        /sealing the input staged plaintext on disk in .*\.sealbatch\/jobs/,
      );
      assert.match(s.warnings![1]!, /opening the results staged plaintext on disk in /);
      assert.ok(notes.some((n) => /^warning: no memory-backed storage with room/.test(n)));

      // With a memory-backed directory that has room: no such warning.
      Deno.env.set("XDG_RUNTIME_DIR", mem.root);
      await Deno.remove(`${p.project}/results`, { recursive: true });
      const again = await runJob(
        await p.input({ stateDir: `${p.project}/.sealbatch/jobs/local-00000002` }),
      );
      assert.equal(again.exitCode, 0);
      assert.equal(again.warnings, undefined);
    } finally {
      if (saved === undefined) Deno.env.delete("XDG_RUNTIME_DIR");
      else Deno.env.set("XDG_RUNTIME_DIR", saved);
    }
  },
});
