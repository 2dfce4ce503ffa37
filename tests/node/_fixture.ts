/**
 * A node and a user in a temporary directory: keys made by sealbatch, the
 * user's public key registered in signers/, a node config with a private
 * work_dir, and a job whose payload appends to a marker file, so a test can
 * prove whether anything ran.
 */
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { sealJob } from "../../src/job/seal.ts";
import type { SealJobInput, SealJobOutput } from "../../src/job/seal.ts";
import { exec } from "../../src/util/exec.ts";
import assert from "node:assert/strict";
import { assertOneLineError, runCli } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";

export interface Fixture {
  dir: string;
  user: string;
  userSec: string;
  userPub: string;
  nodeSec: string;
  nodePub: string;
  signers: string;
  state: string;
  work: string;
  config: string;
  marker: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The account name of the uid running the tests. */
export async function currentUser(): Promise<string> {
  const out = await exec("getent", ["passwd", String(Deno.uid())]);
  return out.text.split(":")[0]!;
}

export async function fixture(opts: { configText?: string } = {}): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "sealbatch-node-" });
  const user = await currentUser();
  const keys = `${dir}/keys`;
  const u = await writeKeyPair({
    kind: "user",
    name: "user",
    email: "u@example.org",
    outDir: keys,
  });
  const n = await writeKeyPair({
    kind: "node",
    name: "node",
    email: "n@example.org",
    outDir: keys,
  });
  const signers = `${dir}/signers`;
  await Deno.mkdir(signers);
  await Deno.copyFile(u.publicKey, `${signers}/${user}.asc`);
  const work = `${dir}/work`;
  await Deno.mkdir(work, { mode: 0o711 });
  const config = `${dir}/node.yaml`;
  await Deno.writeTextFile(config, opts.configText ?? "work_dir: work\n");
  return {
    dir,
    user,
    userSec: u.secretKey,
    userPub: u.publicKey,
    nodeSec: n.secretKey,
    nodePub: n.publicKey,
    signers,
    state: `${dir}/state`,
    work,
    config,
    marker: `${dir}/marker`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** Seal a job into DIR/<name>; by default it appends "ran" to the marker file. */
export async function seal(
  f: Fixture,
  name = "job",
  opts: Partial<SealJobInput> = {},
): Promise<SealJobOutput> {
  const out = await sealJob({
    command: { text: `#!/bin/bash\necho ran >> '${f.marker}'\necho "job output"\n` },
    nodeKey: f.nodePub,
    signKey: f.userSec,
    outDir: `${f.dir}/${name}`,
    user: f.user,
    ...opts,
  });
  // Exact modes: other tests may run with umask 0 meanwhile, and the node refuses what others can write.
  await Deno.chmod(`${f.dir}/${name}`, 0o755);
  return out;
}

/** The here-document body as bash feeds it to decrypt_and_execute. */
export function heredocOf(runScript: string): string {
  const lines = runScript.split("\n");
  const start = lines.findIndex((l) => l.includes("<<"));
  const end = lines.lastIndexOf("EOF");
  return lines.slice(start + 1, end).map((l) => `${l}\n`).join("");
}

export interface NodeRun {
  script: string;
  stdin?: string | Uint8Array;
  args?: string[];
  env?: Record<string, string>;
}

/** `node decrypt-and-execute` on a script, stdin defaulting to its own here-document. */
export async function runNode(f: Fixture, run: NodeRun): Promise<CliResult> {
  const stdin = run.stdin ?? heredocOf(await Deno.readTextFile(run.script).catch(() => ""));
  return await runCli([
    "node",
    "decrypt-and-execute",
    "--config",
    f.config,
    "--script",
    run.script,
    "--signers",
    f.signers,
    "--node-key",
    f.nodeSec,
    "--state",
    f.state,
    ...(run.args ?? []),
  ], { stdin, env: { SUDO_UID: "", SUDO_USER: "", ...run.env } });
}

/** How many times the job payload ran. */
export async function runs(f: Fixture): Promise<number> {
  try {
    return (await Deno.readTextFile(f.marker)).split("\n").filter((l) => l === "ran").length;
  } catch {
    return 0;
  }
}

/** Exit 4, one `sealbatch: error:` line matching `why`, and the payload never ran. */
export async function assertRefused(f: Fixture, res: CliResult, why: RegExp): Promise<void> {
  assert.equal(res.code, 4, `expected refusal (4), got ${res.code}: ${res.stderr}`);
  assertOneLineError(res.stderr);
  assert.match(res.stderr, why);
  assert.equal(res.stdout, "");
  assert.equal(await runs(f), 0, "the job payload ran although it was refused");
}

/** A job in DIR/<name> with one input `data.img` of `content`; `jobDir` holds both. */
export async function sealWithInput(
  f: Fixture,
  name = "job",
  content = "the sealed input bytes",
  opts: Partial<SealJobInput> = {},
): Promise<SealJobOutput & { jobDir: string; input: string }> {
  const jobDir = `${f.dir}/${name}`;
  await Deno.mkdir(jobDir, { recursive: true });
  const input = `${jobDir}/data.img`;
  await Deno.writeTextFile(input, content, { mode: 0o600 });
  await Deno.chmod(input, 0o600);
  const job = await seal(f, name, { inputs: [input], ...opts });
  return { ...job, jobDir, input };
}

/** Put `make(path)` where the input was: the attack on the shared file system. */
export async function replaceInput(input: string, make: (path: string) => Promise<unknown>) {
  await Deno.remove(input);
  await make(input);
}
