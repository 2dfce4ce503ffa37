/**
 * Benchmark: `sealbatch run` on the local test site (scripts/test-site.sh, as
 * root) with the Vault-compatible development server (the project's Vault
 * stand-in).
 *
 *  1. The tutorial job (bart fft on the Shepp-Logan sample): the client-side
 *     steps of `runJob` next to the raw tools doing the same work in the same
 *     run: mkfs.ext4 -d + cryptsetup reencrypt (input and output container),
 *     gpg --encrypt + --detach-sign, scp of the four files, sbatch.
 *  2. A cohort of N small jobs: jobs per second through submission, once with
 *     the local sealing included and once for the submission phase alone
 *     (escrow, seal-job, verified upload, sbatch; containers sealed by a
 *     preceding --dry-run). Cohort jobs are submitted with --hold and
 *     cancelled, so they never occupy the cluster.
 *
 * Sealing works in $XDG_RUNTIME_DIR as in a desktop session; where there is
 * none (root in a plain shell), the benchmark mounts a tmpfs of its own
 * rather than letting every seal go through the disk next to the output.
 *
 * Usage: deno run -P=test scripts/bench-run.ts [cohort-size]
 */
import { loadJobSpec } from "../src/config/job_spec.ts";
import { HEADER_ARGS, REDUCE_BYTES } from "../src/luks/cryptsetup.ts";
import { loadSiteProfile } from "../src/config/site.ts";
import { startDevServer } from "../src/kms/dev_server.ts";
import { VaultClient } from "../src/kms/vault_client.ts";
import { runCohort } from "../src/run/cohort.ts";
import { jobDir, newJobId, projectStateDir } from "../src/run/project.ts";
import { type RunEvent, runJob } from "../src/run/run.ts";
import { SiteBackend } from "../src/run/site_backend.ts";
import { writeSheppLoganSample } from "../src/sample/shepp_logan.ts";
import { exec } from "../src/util/exec.ts";
import { memoryDir } from "../tests/run/_memory.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const cohortSize = Number(Deno.args[0] ?? 10);

const up = await exec("bash", [`${ROOT}/scripts/test-site.sh`, "up"], { what: "test site" });
const site: Record<string, string> = Object.fromEntries(
  up.text.split("\n").filter((l) => l.includes("=")).map((l) => [
    l.slice(0, l.indexOf("=")),
    l.slice(l.indexOf("=") + 1),
  ]),
);
const dir = await Deno.makeTempDir({ prefix: "sealbatch-bench-run-" });
// Memory-backed private storage as a desktop session has it (a tmpfs of its own when this root
// shell has none).
await using memory = await memoryDir();
if (memory.env.XDG_RUNTIME_DIR) Deno.env.set("XDG_RUNTIME_DIR", memory.env.XDG_RUNTIME_DIR);
const vault = await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: "root-bench" });
const ms = (t: number) => `${(t / 1000).toFixed(2)} s`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

try {
  await Deno.mkdir(`${dir}/input`);
  await writeSheppLoganSample(`${dir}/input`);
  const writeSpec = (name: string, extra = "") =>
    Deno.writeTextFile(
      `${dir}/${name}`,
      `name: bench\ninput: input\noutputs: results\n` +
        `command: "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft"\n` +
        `resources:\n  time: "00:10:00"\n${extra}`,
    );
  await writeSpec("job.yaml");
  await writeSpec("held.yaml", `  extra_args: ["--hold"]\n`);
  await Deno.writeTextFile(
    `${dir}/site.yaml`,
    `name: testsite\nssh:\n  login: { host: ${site.SITE_HOST}, port: ${site.SITE_PORT} }\n` +
      `  user: ${site.SITE_USER}\n  identity: ${site.SITE_IDENTITY}\n` +
      `  known_hosts: ${site.SITE_KNOWN_HOSTS}\nremote:\n  base_dir: ${site.SITE_REMOTE_DIR}\n` +
      `vault:\n  addr: ${vault.addr}\n  wrap_ttl: 1h\nnode:\n  public_key: ${site.SITE_NODE_PUBKEY}\n` +
      `  command: [${site.SITE_SEALBATCH}]\n`,
  );
  const profile = await loadSiteProfile(`${dir}/site.yaml`);
  const client = await VaultClient.connect({ addr: vault.addr }, "root-bench");
  await using backend = await SiteBackend.connect(profile);
  const stateRoot = projectStateDir(dir);
  const common = {
    site: profile,
    backend,
    vault: client,
    signKey: site.SITE_USER_SECKEY!,
    nodePublicKey: profile.node.publicKey,
    nodeCommand: profile.node.command,
  };

  // ---- 1. one tutorial job, step by step
  const job = newJobId("bench");
  const total0 = performance.now();
  const summary = await runJob({
    ...common,
    spec: await loadJobSpec(`${dir}/job.yaml`),
    stateDir: jobDir(stateRoot, job),
    jobId: job,
    dryRun: false,
  });
  const total = performance.now() - total0;
  const step = (n: string) => summary.steps.find((s) => s.name === n)?.ms ?? 0;
  const clientSide = ["seal-input", "escrow", "seal-job", "upload", "submit"]
    .reduce((a, n) => a + step(n), 0);

  // The same work with the raw tools.
  const raw = `${dir}/raw`;
  await Deno.mkdir(raw);
  await Deno.writeFile(`${raw}/key`, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });
  const container = async (name: string, source: string) => {
    // The smallest file system and header, as sealbatch makes them for small jobs.
    await exec("truncate", ["-s", "5M", `${raw}/${name}`]);
    await exec("mkfs.ext4", ["-q", "-d", source, `${raw}/${name}`, "4M"]);
    await exec("cryptsetup", [
      "reencrypt",
      "--encrypt",
      "--type",
      "luks2",
      ...HEADER_ARGS,
      "--reduce-device-size",
      `${REDUCE_BYTES / 1024}k`,
      "--pbkdf",
      "pbkdf2",
      "--pbkdf-force-iterations",
      "1000",
      "--key-file",
      `${raw}/key`,
      "-q",
      `${raw}/${name}`,
    ]);
  };
  await Deno.mkdir(`${raw}/empty`);
  const tMkfs = await timed(async () => {
    await container("input.img", `${dir}/input`);
    await container("output.img", `${raw}/empty`);
  });
  const gnupg = `${raw}/gnupg`;
  await Deno.mkdir(gnupg, { mode: 0o700 });
  const gpg = (args: string[]) =>
    exec("gpg", ["--batch", "--quiet", "--trust-model", "always", ...args], {
      env: { GNUPGHOME: gnupg },
    });
  await gpg(["--import", site.SITE_USER_SECKEY!, site.SITE_NODE_PUBKEY!]);
  await Deno.writeTextFile(`${raw}/command.sh`, "#!/bin/bash\n" + "x".repeat(3000) + "\n");
  const tGpg = await timed(async () => {
    const fpr = (await gpg(["--with-colons", "--list-keys"])).text.split("\n")
      .filter((l) => l.startsWith("fpr:")).map((l) => l.split(":")[9]!);
    await gpg([
      "--armor",
      "--encrypt",
      "-r",
      fpr.at(-1)!,
      "-o",
      `${raw}/run.sh`,
      `${raw}/command.sh`,
    ]);
    await gpg(["--detach-sign", "-o", `${raw}/run.sh.sig`, `${raw}/run.sh`]);
  });
  const ssh = [
    "-o",
    "BatchMode=yes",
    "-o",
    `UserKnownHostsFile=${site.SITE_KNOWN_HOSTS}`,
    "-i",
    site.SITE_IDENTITY!,
  ];
  const target = `${site.SITE_USER}@${site.SITE_HOST}`;
  const rawDir = `${site.SITE_REMOTE_DIR}/bench-raw-${job}`;
  await exec("ssh", [...ssh, "-p", site.SITE_PORT!, target, `mkdir -p ${rawDir}`]);
  const tScp = await timed(() =>
    exec("scp", [
      ...ssh,
      "-q",
      "-P",
      site.SITE_PORT!,
      ...["input.img", "output.img", "run.sh", "run.sh.sig"].map((f) => `${raw}/${f}`),
      `${target}:${rawDir}/`,
    ])
  );
  let held = "";
  const tSbatch = await timed(async () => {
    held = (await exec("ssh", [
      ...ssh,
      "-p",
      site.SITE_PORT!,
      target,
      `sbatch --parsable --hold -p secure --exclusive -o /dev/null --wrap true`,
    ])).text.trim();
  });
  await exec("ssh", [
    ...ssh,
    "-p",
    site.SITE_PORT!,
    target,
    `scancel ${held}; rm -rf ${rawDir} ${site.SITE_REMOTE_DIR}/jobs/${job}`,
  ]);
  const rawSum = tMkfs + tGpg + tScp + tSbatch;

  console.log(`tutorial job ${job}: ${summary.state}, ${ms(total)} end to end`);
  for (const s of summary.steps) console.log(`  ${s.name.padEnd(15)} ${ms(s.ms)}`);
  console.log(
    `client side (seal-input .. submit): ${ms(clientSide)}; raw tools: mkfs+cryptsetup ${
      ms(tMkfs)
    }, gpg ${ms(tGpg)}, scp ${ms(tScp)}, sbatch ${ms(tSbatch)} = ${ms(rawSum)}; ratio ${
      (clientSide / rawSum).toFixed(2)
    }`,
  );

  // ---- 2. cohort throughput (held jobs, cancelled at the end)
  const inputs: string[] = [];
  for (let i = 0; i < cohortSize; i++) {
    const d = `${dir}/inputs/p${String(i).padStart(3, "0")}`;
    await Deno.mkdir(d, { recursive: true });
    await Deno.writeTextFile(`${d}/data.txt`, `patient ${i}\n`);
    inputs.push(d);
  }
  const heldSpec = await loadJobSpec(`${dir}/held.yaml`);
  const measure = async (dryRunFirst: boolean) => {
    const root = `${dir}/cohort-${dryRunFirst ? "b" : "a"}`;
    const spec = { ...heldSpec, outputs: `${root}/results` };
    const stateRootC = projectStateDir(root);
    if (dryRunFirst) {
      await runCohort({
        ...common,
        spec,
        inputs,
        stateRoot: stateRootC,
        concurrency: 4,
        dryRun: true,
      });
    }
    const ids: string[] = [];
    // Where the time goes: each step's time summed over the jobs (they overlap in time).
    const perStep: Record<string, number> = {};
    const t0 = performance.now();
    let allSubmitted: (t: number) => void;
    const submitted = new Promise<number>((r) => (allSubmitted = r));
    const onEvent = (e: RunEvent) => {
      if (e.phase === "done" && e.ms !== undefined) perStep[e.step] = (perStep[e.step] ?? 0) + e.ms;
      if (e.step === "submit" && e.phase === "done") {
        ids.push(e.job);
        if (ids.length === inputs.length) allSubmitted(performance.now() - t0);
      }
    };
    const running = runCohort({
      ...common,
      spec,
      inputs,
      stateRoot: stateRootC,
      concurrency: 4,
      dryRun: false,
      onEvent,
    });
    const t = await submitted;
    // Cancel the held jobs: their waits end, and each run revokes its keys.
    await exec("ssh", [
      ...ssh,
      "-p",
      site.SITE_PORT!,
      target,
      ids.map((id) => `scancel -n ${id}`).join("; "),
    ]);
    await running;
    // The site keeps job directories (ciphertext); the benchmark's are of no use to anyone.
    await exec("ssh", [
      ...ssh,
      "-p",
      site.SITE_PORT!,
      target,
      `rm -rf -- ${ids.map((id) => `${site.SITE_REMOTE_DIR}/jobs/${id}`).join(" ")}`,
    ]);
    console.log(
      `  ${dryRunFirst ? "submission only" : "with sealing"}, per job: ` +
        Object.entries(perStep).filter(([n]) => n !== "wait" && n !== "revoke")
          .map(([n, v]) => `${n} ${(v / inputs.length).toFixed(0)} ms`).join(", "),
    );
    return t;
  };
  const full = await measure(false);
  const submitOnly = await measure(true);
  console.log(
    `cohort of ${cohortSize}: ${(cohortSize / (full / 1000)).toFixed(2)} jobs/s submitted ` +
      `with local sealing (${ms(full)}); ${(cohortSize / (submitOnly / 1000)).toFixed(2)} jobs/s ` +
      `for escrow+seal-job+upload+sbatch alone (${ms(submitOnly)})`,
  );
  client.close();
} finally {
  await vault.shutdown();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
