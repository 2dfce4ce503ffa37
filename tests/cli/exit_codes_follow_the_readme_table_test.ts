/**
 * The exit codes are the README's table, row by row: every row is a code
 * sealbatch can exit with, every code it has is a row, and each row is
 * triggered for real where that is cheap (signals, usage, input, permission;
 * with the test site: a refused SSH key is 6 in every command, job wait
 * --timeout has its own code).
 */
import assert from "node:assert/strict";
import { EXIT_CODES } from "../../src/util/errors.ts";
import { SIGNAL_EXIT_CODES } from "../../src/util/cleanup.ts";
import { OUTCOME_EXIT_CODES, submit } from "../../src/slurm/slurm.ts";
import { sh } from "../../src/remote/quote.ts";
import { ROOT, runCli, tempDir } from "../_helpers/cli.ts";
import { SITE_SKIP, siteEnv, siteFlags } from "../remote/_site.ts";
import { slurmSite } from "../slurm/_slurm.ts";
import { makeProject, runIn } from "../run/_fixture.ts";

const readme = await Deno.readTextFile(`${ROOT}/README.md`);
const section = readme.slice(readme.indexOf("## Exit codes"));
const ROWS = new Map(
  [...section.matchAll(/^\|\s+(\d+) \| (.+?)\s+\|$/gm)].map((m) => [Number(m[1]), m[2]!]),
);

Deno.test("every code sealbatch has is a row of the README table, and every row a code", () => {
  const codes = new Set([
    ...Object.values(EXIT_CODES),
    ...Object.values(OUTCOME_EXIT_CODES),
    ...Object.values(SIGNAL_EXIT_CODES),
  ]);
  assert.deepEqual([...ROWS.keys()].sort((a, b) => a - b), [...codes].sort((a, b) => a - b));
  assert.match(ROWS.get(EXIT_CODES.remote)!, /SSH login \(also a refused key\)/);
  assert.match(ROWS.get(EXIT_CODES.timeout)!, /job wait --timeout/);
  assert.match(ROWS.get(SIGNAL_EXIT_CODES.SIGTERM)!, /SIGTERM.*128 \+ N/);
});

Deno.test("rows 0, 2, 3 and 10 from the command line", async () => {
  assert.equal((await runCli(["--version"])).code, 0);
  assert.equal((await runCli(["run", "--no-such-flag"])).code, 2);
  assert.equal((await runCli(["run", "/nonexistent/job.yaml", "--site", "x"])).code, 3);
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/x.cfl`, new Uint8Array(8));
  await Deno.writeTextFile(`${dir.path}/x.hdr`, "# Dimensions\n1 1\n");
  const r = await runCli(["view", `${dir.path}/x.cfl`, "--out", "/usr/sealbatch-denied.png"]);
  assert.equal(r.code, 10, r.stderr);
});

Deno.test("a signal exits 128 + its number after the cleanups ran (SIGINT 130, SIGTERM 143, SIGHUP 129)", async () => {
  await using dir = await tempDir();
  const script = `${dir.path}/wait.ts`;
  await Deno.writeTextFile(
    script,
    `import { onCleanup } from ${JSON.stringify(`${ROOT}/src/util/cleanup.ts`)};
onCleanup(() => Deno.writeTextFile(Deno.args[0]!, "cleaned"));
console.log("ready");
await new Promise(() => setInterval(() => {}, 1000));
`,
  );
  for (const [sig, code] of Object.entries(SIGNAL_EXIT_CODES)) {
    const marker = `${dir.path}/${sig}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "-A", "--config", `${ROOT}/deno.json`, script, marker],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /ready/);
    reader.releaseLock();
    child.kill(sig as Deno.Signal);
    const out = await child.output();
    assert.equal(out.code, code, sig);
    assert.match(new TextDecoder().decode(out.stderr), new RegExp(`interrupted by ${sig}`));
    assert.equal(await Deno.readTextFile(marker), "cleaned", sig);
  }
});

Deno.test({
  name: "row 3: no memory-backed directory for the local node is an input error, not a tool's",
  // Only where this machine offers none ($XDG_RUNTIME_DIR, /run/user/UID).
  ignore: await Deno.stat(`/run/user/${Deno.uid()}`).then(() => true, () => false),
  async fn() {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { memoryRoot } from ${JSON.stringify(`${ROOT}/src/run/local_node.ts`)};
try { await memoryRoot(); } catch (e) { console.log(e.exitCode); }`,
      ],
      env: { XDG_RUNTIME_DIR: "/nonexistent" },
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(child.stdout).trim(), String(EXIT_CODES.input));
  },
});

Deno.test({
  name:
    "row 6: a refused SSH key is a login failure, 6 in run, site check, remote check and job status",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    const other = `${p.dir}/id_other`;
    const gen = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ed25519", "-N", "", "-f", other],
    }).output();
    assert.ok(gen.success);
    const text = await Deno.readTextFile(p.profile);
    await Deno.writeTextFile(p.profile, text.replace(p.site.SITE_IDENTITY!, other));
    const flags = siteFlags(p.site).map((f) => (f === p.site.SITE_IDENTITY ? other : f));
    for (
      const args of [
        ["run", "job.yaml", "--site", "site.yaml", "--dry-run"],
        ["site", "check", "site.yaml"],
        ["remote", "check", ...flags],
        ["job", "status", "1", ...flags],
      ]
    ) {
      const r = await runIn(p, args);
      assert.equal(r.code, 6, `${args.slice(0, 2).join(" ")}: ${r.stderr}${r.stdout}`);
      assert.match(r.stdout + r.stderr, /the server refused the key/);
    }
  },
});

Deno.test({
  name: "row 16: job wait --timeout gives up with its own code; the job keeps running",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using s = await slurmSite("timeout");
    const id = await submit(s.shell, s.slurm, await s.script("job.sh", "sleep 60"), {
      cwd: s.dir,
    });
    try {
      const r = await runCli(["job", "wait", id, ...siteFlags(await siteEnv()), "--timeout", "2s"]);
      assert.equal(r.code, EXIT_CODES.timeout, r.stderr);
      assert.match(r.stderr, /did not finish in time .*the job keeps running/);
    } finally {
      await s.shell.run(`scancel ${sh(id)}`);
    }
  },
});
