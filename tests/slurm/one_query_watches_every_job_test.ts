/**
 * A cohort's jobs are waited on through one watcher: each round is one squeue
 * query naming every job still waited on, not one query per job, and each
 * wait still ends with its own job's terminal state.
 */
import assert from "node:assert/strict";
import { submit } from "../../src/slurm/slurm.ts";
import { JobWatcher } from "../../src/slurm/watch.ts";
import { SITE_SKIP, slurmSite } from "./_slurm.ts";

Deno.test({
  name: "one watcher polls all its jobs with one squeue query per round",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("watch");
    const script = await s.script("held.sh", "true");
    const held = { ...s.slurm, resources: { extraArgs: ["--hold"] } };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(s.shell, held, script, { cwd: s.dir }));

    const queries: string[] = [];
    const counting = {
      where: s.shell.where,
      run: (c: string) => {
        if (c.startsWith("'squeue'") || c.startsWith("squeue")) queries.push(c);
        return s.shell.run(c);
      },
    };
    const watcher = new JobWatcher(counting, s.slurm, { intervalMs: 100, maxIntervalMs: 200 });
    const seen = new Map<string, string[]>(ids.map((id) => [id, []]));
    const waits = ids.map((id) =>
      watcher.wait(id, { onState: (st) => seen.get(id)!.push(st.state), timeoutMs: 120_000 })
    );
    // Held jobs do not change: let a few rounds pass, then end them all.
    while (queries.length < 3) await new Promise((r) => setTimeout(r, 50));
    const before = queries.length;
    const cancelled = await s.shell.run(`scancel ${ids.join(" ")}`);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const results = await Promise.all(waits);

    for (const [i, r] of results.entries()) {
      assert.equal(r.id, ids[i]);
      assert.equal(r.state, "CANCELLED");
      assert.deepEqual(seen.get(ids[i]!), ["PENDING", "CANCELLED"]);
    }
    // While all three were held, every round asked for all three in one query.
    for (const q of queries.slice(0, before)) {
      assert.match(q, new RegExp(`-j '?${ids.join(",")}'? `), q);
    }
    // One query per round, not one per job: the rounds it took, nothing more.
    assert.ok(queries.length <= before + 2, `${queries.length} queries after ${before}`);
  },
});
