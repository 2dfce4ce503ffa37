/**
 * A cohort's jobs that are ready together are submitted in one remote
 * command; each still gets its own job id or its own error.
 */
import assert from "node:assert/strict";
import { SealbatchError } from "../../src/util/errors.ts";
import { submitMany } from "../../src/slurm/slurm.ts";
import { SITE_SKIP, slurmSite } from "./_slurm.ts";

Deno.test({
  name: "submitMany: one command, an id or an error per job",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await slurmSite("many");
    const script = await s.script("held.sh", "true");
    const held = { ...s.slurm, resources: { extraArgs: ["--hold"] } };
    const commands: string[] = [];
    const counting = {
      where: s.shell.where,
      run: (c: string) => (commands.push(c), s.shell.run(c)),
    };
    const ok = { settings: held, script, opts: { cwd: s.dir } };
    const results = await submitMany(counting, [
      ok,
      { ...ok, settings: { ...held, partition: "nosuchpartition" } },
      { ...ok, settings: { ...held, partition: "bad name;rm" } },
      ok,
    ]);
    assert.equal(commands.length, 1, "one remote command");
    assert.doesNotMatch(commands[0]!, /bad name/, "a malformed request never reaches the site");
    const [a, b, c, d] = results;
    assert.ok(a?.status === "fulfilled" && d?.status === "fulfilled");
    assert.match(a.value, /^\d+$/);
    assert.match(d.value, /^\d+$/);
    assert.notEqual(a.value, d.value);
    assert.ok(b?.status === "rejected" && b.reason instanceof SealbatchError);
    assert.match(b.reason.message, /cannot submit .* to partition "nosuchpartition": .*partition/i);
    assert.ok(c?.status === "rejected" && c.reason instanceof SealbatchError);
    assert.match(c.reason.message, /invalid partition name/);
    const cancelled = await s.shell.run(`scancel ${a.value} ${d.value}`);
    assert.equal(cancelled.code, 0, cancelled.stderr);
  },
});
