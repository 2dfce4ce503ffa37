/**
 * Benchmark: submitting to the local test site (scripts/test-site.sh, as root).
 *
 *  1. One `sealbatch job submit` of a prepared (sealed) job directory, CLI
 *     start-up, SSH login, verified upload of run.sh + run.sh.sig and sbatch
 *     included, next to the reference way: `scp` of the two files, then
 *     `ssh host sbatch -p secure --exclusive run.sh`, and next to the bare
 *     `ssh host sbatch` (files already there).
 *  2. 100 submissions over one connection (src/slurm over ssh2) next to 100
 *     `ssh host sbatch` (one connection each) and 100 over one multiplexed
 *     OpenSSH connection (ControlMaster).
 *
 * Every sbatch here except the `job submit` ones uses --hold, and the held
 * jobs are cancelled at the end, so the cluster stays free.
 *
 * Usage: deno run -P=test scripts/bench-submit.ts [single-iterations] [batch-size]
 */
import { RemoteSite } from "../src/remote/connection.ts";
import { joinRemote, sh } from "../src/remote/quote.ts";
import { sshShell } from "../src/slurm/shell.ts";
import { defaultSlurmSettings, submit } from "../src/slurm/slurm.ts";
import { exec } from "../src/util/exec.ts";
import { CLI_ARGS } from "../tests/_helpers/cli.ts";
import { median, timed } from "./_bench.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const iterations = Number(Deno.args[0] ?? 5);
const batch = Number(Deno.args[1] ?? 100);

const up = await exec("bash", [`${ROOT}/scripts/test-site.sh`, "up"], {
  what: "starting the test site",
});
const env = Object.fromEntries(
  up.text.split("\n").filter((l) => l.includes("=")).map((l) => {
    const i = l.indexOf("=");
    return [l.slice(0, i), l.slice(i + 1)];
  }),
) as Record<string, string>;

const tag = `bench-${crypto.randomUUID().slice(0, 8)}`;
const remoteBase = joinRemote(env.SITE_REMOTE_DIR!, tag);
const local = await Deno.makeTempDir({ prefix: "sealbatch-bench-submit-" });
const control = `${local}/ssh-control`;
const target = `${env.SITE_USER}@${env.SITE_HOST}`;
const sshOpts = [
  "-i",
  env.SITE_IDENTITY!,
  "-o",
  `UserKnownHostsFile=${env.SITE_KNOWN_HOSTS}`,
  "-o",
  "BatchMode=yes",
];
const ssh = (command: string, extra: string[] = []) =>
  exec("ssh", [...sshOpts, ...extra, "-p", env.SITE_PORT!, target, command], {
    what: "ssh",
  });
const sbatchHeld = (dir: string) =>
  `cd ${sh(dir)} && sbatch --parsable -p secure --exclusive --hold run.sh`;
const held: string[] = [];

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

try {
  // A real sealed job: the node runs it (and refuses the repeats as replays).
  const command = `${local}/command.sh`;
  await Deno.writeTextFile(command, "#!/bin/bash\ntrue\n");
  const job = `${local}/job`;
  await exec(Deno.execPath(), [
    ...CLI_ARGS,
    "job",
    "seal",
    "--command",
    command,
    "--node-key",
    env.SITE_NODE_PUBKEY!,
    "--sign-key",
    env.SITE_USER_SECKEY!,
    "--user",
    env.SITE_USER!,
    "--out",
    job,
  ], { what: "sealing the job" });

  const cli = await timed(iterations, (i) =>
    exec(Deno.execPath(), [
      ...CLI_ARGS,
      "job",
      "submit",
      job,
      "--site",
      env.SITE_PROFILE!,
      "--remote-dir",
      remoteBase,
      "--name",
      `cli-${i}`,
    ], { what: "sealbatch job submit" }));
  const refDirs = Array.from({ length: iterations }, (_, i) => joinRemote(remoteBase, `ref-${i}`));
  await ssh(`mkdir -p ${refDirs.map(sh).join(" ")}`);
  const scpSbatch = await timed(iterations, async (i) => {
    await exec("scp", [
      "-q",
      ...sshOpts,
      "-P",
      env.SITE_PORT!,
      `${job}/run.sh`,
      `${job}/run.sh.sig`,
      `${target}:${refDirs[i]}/`,
    ], { what: "scp" });
    held.push((await ssh(sbatchHeld(refDirs[i]!))).text.trim());
  });
  const ref = await timed(iterations, async (i) => {
    held.push((await ssh(sbatchHeld(refDirs[i]!))).text.trim());
  });
  for (const id of held.splice(0)) await ssh(`scancel ${sh(id)}`);

  const m = median(ref);
  const row = (name: string, xs: number[]) =>
    `  ${name.padEnd(52)} ${median(xs).toFixed(0).padStart(6)} ms   ${
      (median(xs) / m).toFixed(2)
    }x ssh sbatch`;
  console.log(`one submission of a prepared job, ${iterations} iterations, medians:`);
  console.log(row("sealbatch job submit (CLI: start-up, login, upload)", cli));
  console.log(row("scp run.sh run.sh.sig + ssh host sbatch", scpSbatch));
  console.log(row("ssh host sbatch (files already there)", ref));

  // 100 submissions.
  const dir = refDirs[0]!;
  const settings = { ...defaultSlurmSettings(), resources: { extraArgs: ["--hold"] } };
  const site = await RemoteSite.connect({
    login: { host: env.SITE_HOST!, port: Number(env.SITE_PORT), user: env.SITE_USER! },
    identity: env.SITE_IDENTITY!,
    knownHosts: env.SITE_KNOWN_HOSTS!,
    remoteDir: remoteBase,
  });
  let one: number[];
  try {
    const shell = sshShell(site.login);
    one = await timed(batch, async () => {
      held.push(await submit(shell, settings, joinRemote(dir, "run.sh"), { cwd: dir }));
    });
  } finally {
    site.close();
  }
  const perConnection = await timed(batch, async () => {
    held.push((await ssh(sbatchHeld(dir))).text.trim());
  });
  const mux = [
    "-o",
    "ControlMaster=auto",
    "-o",
    `ControlPath=${control}`,
    "-o",
    "ControlPersist=60",
  ];
  await ssh("true", mux);
  const multiplexed = await timed(batch, async () => {
    held.push((await ssh(sbatchHeld(dir), mux)).text.trim());
  });
  await exec("ssh", ["-o", `ControlPath=${control}`, "-O", "exit", target], { okCodes: [0, 255] });

  const rate = (xs: number[]) => (xs.length / (sum(xs) / 1000));
  const r1 = rate(one);
  const line = (name: string, xs: number[]) =>
    `  ${name.padEnd(52)} ${rate(xs).toFixed(1).padStart(6)} jobs/s   sealbatch: ${
      (r1 / rate(xs)).toFixed(2)
    }x`;
  console.log(`${batch} submissions (held, then cancelled):`);
  console.log(line("sealbatch, one ssh2 connection", one));
  console.log(line("ssh host sbatch, one connection each", perConnection));
  console.log(line("ssh host sbatch, one multiplexed connection", multiplexed));
} finally {
  for (let i = 0; i < held.length; i += 200) {
    await ssh(`scancel ${held.slice(i, i + 200).map(sh).join(" ")}`).catch(() => {});
  }
  await ssh(`rm -rf -- ${sh(remoteBase)}`).catch(() => {});
  await Deno.remove(local, { recursive: true });
}
