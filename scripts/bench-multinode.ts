/**
 * Benchmark: the time from a job's start to its command running on every node of the multi-node
 * test cluster (SEALBATCH_SITE_NODES=3 scripts/test-site.sh, as root), for 1, 2 and 3 nodes, of a
 * sealed job next to a plain (unsealed) one, both measured the same way in the same run.
 *
 * Job start: the birth time (statx btime, ns) of the job's Slurm log, which slurmstepd creates
 * right before it runs the batch script; the log is on the shared file system, read here directly.
 * Command running: the latest `date +%s%N` of the command's tasks, one per node (the nodes share
 * this machine's clock).
 *
 * Plain: a signed batch job of K nodes whose script is `srun -N K --ntasks-per-node=1 date +%s%N`.
 * Sealed: `sealbatch run` of a job of `nodes: K` (outputs_from: all) whose command writes the same
 * stamp into its node's output. Before the command step starts, every node verifies the signature,
 * decrypts with the node key, checks its input copy, fetches its own keys from the Vault stand-in
 * and opens the data. With 1 node the command runs directly on the node, not through srun.
 *
 * Per round, one plain job and one sealed run of each K, interleaved. The table: the medians of
 * the rounds, and ratios of those medians.
 *
 * Usage: deno run -P=test scripts/bench-multinode.ts [rounds]
 */
import { sh } from "../src/remote/quote.ts";
import { submit } from "../src/slurm/slurm.ts";
import { waitForJob } from "../src/slurm/watch.ts";
import { exec } from "../src/util/exec.ts";
import { cluster, CLUSTER_NODES } from "../tests/multinode/_cluster.ts";
import { jobIdOf, makeProject, remote, runIn } from "../tests/run/_fixture.ts";
import type { SlurmSite } from "../tests/slurm/_slurm.ts";
import { median } from "./_bench.ts";

const rounds = Number(Deno.args[0] ?? 5);

/** Birth time of a local file in ns since the epoch: %W gives the seconds, %w the fraction. */
async function birthNs(path: string): Promise<bigint> {
  const { text } = await exec("stat", ["-c", "%W %w", path]);
  const m = /^(\d+) \S+ [\d:]+\.(\d{9}) /.exec(text.trim());
  if (!m || m[1] === "0") throw new Error(`no birth time of ${path}: ${text}`);
  return BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!);
}

/** Ms from the birth of `log` to the latest of `k` task stamps found in `text`. */
async function sinceBirth(log: string, text: string, k: number): Promise<number> {
  const stamps = text.split(/\s+/).filter((w) => /^\d{19}$/.test(w)).map(BigInt);
  if (stamps.length !== k) throw new Error(`${k} task stamps expected, got:\n${text}`);
  const last = stamps.reduce((a, b) => (a > b ? a : b));
  return Number(last - await birthNs(log)) / 1e6;
}

async function plain(s: SlurmSite, script: string, k: number): Promise<number> {
  const slurm = { ...s.slurm, resources: { extraArgs: [`--nodes=${k}`] } };
  const id = await submit(s.shell, slurm, script, { cwd: s.dir, output: `${s.dir}/out-%j.log` });
  const done = await waitForJob(s.shell, s.slurm, id, {
    intervalMs: 250,
    maxIntervalMs: 500,
    timeoutMs: 180_000,
  });
  const log = `${s.dir}/out-${id}.log`;
  const text = await Deno.readTextFile(log);
  if (done.state !== "COMPLETED") throw new Error(`plain job ${id} ${done.state}:\n${text}`);
  return await sinceBirth(log, text, k);
}

async function sealed(k: number): Promise<number> {
  await using p = await makeProject({
    nodes: CLUSTER_NODES,
    // A one-node job's command runs without srun, so without SLURM_NODEID: it is node 0.
    command: `date +%s%N >{output}/start-${k > 1 ? "$SLURM_NODEID" : 0}.txt`,
    specExtra: k > 1 ? `  nodes: ${k}\noutputs_from: all\n` : "",
  });
  const r = await runIn(p, ["run", "job.yaml", "--site", "site.yaml"]);
  if (r.code !== 0) throw new Error(`sealed run of ${k} nodes failed:\n${r.stderr}`);
  const jobDir = `${p.site.SITE_REMOTE_DIR}/jobs/${jobIdOf(r.stderr)}`;
  try {
    const log = [...Deno.readDirSync(jobDir)].find((e) => /^slurm-\d+\.out$/.test(e.name));
    if (!log) throw new Error(`no Slurm log in ${jobDir}`);
    let text = "";
    for (let i = 0; i < k; i++) {
      // One output directory per node with outputs_from: all; a one-node job's is the outputs.
      const dir = k > 1 ? `${p.dir}/results/node-${i}` : `${p.dir}/results`;
      text += await Deno.readTextFile(`${dir}/start-${i}.txt`) + "\n";
    }
    return await sinceBirth(`${jobDir}/${log.name}`, text, k);
  } finally {
    // The run leaves its remote job dir; the benchmark's many would pile up in the site's home.
    await remote(p.site, `rm -rf -- ${sh(jobDir)}`);
  }
}

await using s = await cluster("bench-multinode");
const nodes = Array.from({ length: CLUSTER_NODES }, (_, i) => i + 1);
const scripts = new Map<number, string>();
for (const k of nodes) {
  scripts.set(k, await s.script(`plain-${k}.sh`, `srun -N ${k} --ntasks-per-node=1 date +%s%N`));
}
const times = new Map(nodes.map((k) => [k, { plain: [] as number[], sealed: [] as number[] }]));
for (let r = 1; r <= rounds; r++) {
  for (const k of nodes) {
    const t = times.get(k)!;
    t.plain.push(await plain(s, scripts.get(k)!, k));
    t.sealed.push(await sealed(k));
    console.error(
      `round ${r} nodes ${k}: plain ${t.plain.at(-1)!.toFixed(1)} ms, ` +
        `sealed ${t.sealed.at(-1)!.toFixed(1)} ms`,
    );
  }
}

const med = new Map(nodes.map((k) => {
  const t = times.get(k)!;
  return [k, { plain: median(t.plain), sealed: median(t.sealed) }];
}));
const one = med.get(1)!;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const ratio = (x: number) => `${x.toFixed(2)}x`;
const header = ["nodes", "plain", "sealed", "sealed/plain", "plain vs 1 node", "sealed vs 1 node"];
const row = (cells: string[]) =>
  cells.map((c, i) => c.padStart(i === 0 ? 5 : Math.max(header[i]!.length, 9) + 2)).join("");
console.log(`job start -> command running on every node (median of ${rounds} rounds)`);
console.log(row(header));
for (const k of nodes) {
  const m = med.get(k)!;
  console.log(row([
    String(k),
    ms(m.plain),
    ms(m.sealed),
    ratio(m.sealed / m.plain),
    ratio(m.plain / one.plain),
    ratio(m.sealed / one.sealed),
  ]));
}
