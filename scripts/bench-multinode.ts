/**
 * Benchmark: the time from a job's start to its command running on every node of the multi-node
 * test cluster (SEALBATCH_SITE_NODES=3 scripts/test-site.sh, as root), for 1, 2 and 3 nodes.
 *
 * One signed batch job of 3 nodes measures, round after round, from "now" in the batch script to
 * the latest start of the command's tasks, one per node, for the plain (unsealed) launch:
 * `srun -N K --ntasks-per-node=1 CMD`. The sealed column (every node verifying, decrypting and
 * fetching its own keys before the same `srun`) needs the multi-node node side, which is not in
 * this version: it is printed as missing, not estimated.
 *
 * Usage: deno run -P=test scripts/bench-multinode.ts [rounds]
 */
import { submit } from "../src/slurm/slurm.ts";
import { waitForJob } from "../src/slurm/watch.ts";
import { cluster, CLUSTER_NODES } from "../tests/multinode/_cluster.ts";
import { median } from "./_bench.ts";

const rounds = Number(Deno.args[0] ?? 7);
await using s = await cluster("bench-multinode");

// Each line: K and the ms from the round's start to the last task's start.
const body = `
now() { date +%s%N; }
for r in $(seq ${rounds}); do
  for k in $(seq ${CLUSTER_NODES}); do
    t0=$(now)
    last=$(srun -N "$k" --ntasks-per-node=1 date +%s%N | sort -n | tail -n 1)
    echo "plain $k $(( (last - t0) / 1000 ))"
  done
done`;
const script = await s.script("bench.sh", body);
const slurm = { ...s.slurm, resources: { extraArgs: [`--nodes=${CLUSTER_NODES}`] } };
const id = await submit(s.shell, slurm, script, { cwd: s.dir, output: `${s.dir}/out-%j.log` });
const done = await waitForJob(s.shell, s.slurm, id, {
  intervalMs: 500,
  maxIntervalMs: 1000,
  timeoutMs: 600_000,
});
const log = await s.read(`${s.dir}/out-${id}.log`);
if (done.state !== "COMPLETED") throw new Error(`benchmark job ${id} ${done.state}:\n${log}`);

const us = new Map<number, number[]>();
for (const line of log.split("\n")) {
  const m = /^plain (\d) (\d+)$/.exec(line);
  if (m) us.set(Number(m[1]), [...(us.get(Number(m[1])) ?? []), Number(m[2])]);
}
const base = median(us.get(1) ?? [NaN]);
console.log(`job start -> command running on every node (median of ${rounds} rounds)`);
console.log("nodes  plain srun   vs 1 node   sealed");
for (let k = 1; k <= CLUSTER_NODES; k++) {
  const m = median(us.get(k) ?? [NaN]);
  console.log(
    `${String(k).padStart(5)}  ${(m / 1000).toFixed(1).padStart(7)} ms  ${
      (m / base).toFixed(2).padStart(8)
    }x   missing (no multi-node node side)`,
  );
}
