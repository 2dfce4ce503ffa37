import assert from "node:assert/strict";
import { LocalBackend } from "../../src/run/local_backend.ts";
import { protections } from "../../src/run/run.ts";

Deno.test("the local executor's summary claims no SSH, host key or sbatch", async () => {
  await using backend = new LocalBackend({
    root: "/nonexistent/shared",
    nodeConfig: "/nonexistent/node.yaml",
    nodeCommand: ["sealbatch"],
  });
  const p = protections({
    image: false,
    keyMode: "job-scoped",
    wrapTtlMs: 72 * 3_600_000,
    backend,
  });
  for (const step of ["upload", "submit", "wait", "fetch"] as const) {
    assert.doesNotMatch(p[step], /SSH|host key|sbatch|Slurm log/, step);
  }
  assert.match(p.upload, /local copy .*verified by SHA-256/);
  assert.match(p.escrow, /single-use wrapped credentials, valid 72h/);
});
