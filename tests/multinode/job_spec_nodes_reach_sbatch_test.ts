/**
 * `resources.nodes` and `resources.tasks_per_node` of a job spec become sbatch's --nodes and
 * --ntasks-per-node; a bad count is an error at its place in the file. Until the node side runs a
 * sealed job on every node of an allocation, `run` refuses a spec of several nodes before any I/O
 * instead of running it on one; `keys escrow --nodes` refuses reference mode before Vault.
 */
import assert from "node:assert/strict";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { sbatchArgs } from "../../src/slurm/slurm.ts";
import { defaultSlurmSettings } from "../../src/slurm/slurm.ts";
import { runJob } from "../../src/run/run.ts";
import type { RunInput } from "../../src/run/run.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

const spec = (resources: string) =>
  `name: mn
input: data
command: ./part.sh {input} {output}
resources: { ${resources} }
`;

Deno.test("resources.nodes and tasks_per_node reach sbatch; bad counts name file:line", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/job.yaml`;
  await Deno.writeTextFile(path, spec("nodes: 3, tasks_per_node: 2, time: '00:05:00'"));
  const s = await loadJobSpec(path);
  assert.equal(s.resources.nodes, 3);
  assert.equal(s.resources.tasksPerNode, 2);
  const args = sbatchArgs({ ...defaultSlurmSettings(), resources: s.resources }, "/r/run.sh");
  assert.deepEqual(args.slice(args.indexOf("--nodes"), args.indexOf("--nodes") + 4), [
    "--nodes",
    "3",
    "--ntasks-per-node",
    "2",
  ]);
  for (
    const [bad, why] of [["nodes: 0", /nodes/], ["nodes: 1.5", /whole number of nodes/], [
      "nodes: 65",
      /1-64/,
    ], ["tasks_per_node: 0", /tasks_per_node/]] as const
  ) {
    await Deno.writeTextFile(path, spec(bad));
    await assert.rejects(
      () => loadJobSpec(path),
      (e: unknown) =>
        e instanceof SealbatchError && e.kind === "input" &&
        e.message.startsWith(`${path}:4:`) && why.test(e.message),
      bad,
    );
  }
});

Deno.test("run refuses a spec of several nodes without a site before any step; escrow --nodes refuses reference mode", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/job.yaml`;
  await Deno.writeTextFile(path, spec("nodes: 2"));
  const touched: string[] = [];
  const backend = new Proxy({}, {
    get: (_t, p) => {
      touched.push(String(p));
      return undefined;
    },
  });
  await assert.rejects(
    async () =>
      runJob({
        spec: await loadJobSpec(path),
        backend,
        vault: backend,
        stateDir: `${dir.path}/.sealbatch/jobs/mn-1`,
      } as unknown as RunInput),
    (e: unknown) =>
      e instanceof SealbatchError && e.kind === "usage" &&
      /resources.nodes is 2: a job of several nodes runs on a site's Slurm/.test(e.message),
  );
  assert.deepEqual(touched, [], "nothing of the backend or Vault was used");
  await assert.rejects(() => Deno.stat(`${dir.path}/.sealbatch`), Deno.errors.NotFound);

  const r = await runCli(
    [
      "keys",
      "escrow",
      "--job",
      "j",
      "--key",
      "luks=k",
      "--nodes",
      "2",
      "--mode",
      "reference",
      "--policy",
      "p",
    ],
    { cwd: dir.path, env: { VAULT_ADDR: "http://127.0.0.1:9", VAULT_TOKEN: "hvs.x" } },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--nodes needs job-scoped keys/);
});
