/**
 * The node side of a sealed job, in this order:
 *  1. find the job (Slurm's record, or --script outside Slurm) and its owner;
 *  2. verify run.sh's exact bytes against run.sh.sig with the owner's
 *     registered key (signers_dir/USER.asc);
 *  3. check that the message on stdin is the one inside the verified script;
 *  4. decrypt with the node key; check the manifest (account, expiry, inputs,
 *     nonce); each input is copied into the private directory while it is
 *     hashed, and the job gets only those copies ($SEALBATCH_INPUTS);
 *  5. run the script with bash as the job user from a 0700 private directory,
 *     which is wiped afterwards (also on SIGTERM, i.e. scancel);
 *  6. when the manifest names a results file: write receipt.json and its
 *     signature by the node key (see src/job/receipt.ts).
 * Every refusal happens before the step after it; nothing runs on a refusal.
 *
 * A job sealed for several nodes runs this on its first node as the
 * coordinator: after steps 1-4 (without claiming the nonce or copying
 * inputs) it starts the same checks on every node through Slurm, with
 * --node-part, and only then the command (see across_nodes.ts). It writes
 * the receipt, naming every node, once every node has sealed its results.
 */
import { q, reason, refusal, SealbatchError, usageError } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import { checkJobDir, readJobFile } from "./job_files.ts";
import { makePrivateDir } from "../util/secret_file.ts";
import type { PrivateDir } from "../util/secret_file.ts";
import { localUser } from "../util/user.ts";
import { readPrivateKeyFile, readPublicKeyFile } from "../pgp/keys.ts";
import type { PassphraseSource } from "../pgp/keys.ts";
import { ARMOR_LIMITS } from "../pgp/armor.ts";
import { verifyDetached } from "../pgp/verify.ts";
import { decryptMessage } from "../pgp/decrypt.ts";
import { normalizeArmor, unwrapRunScript } from "../job/envelope.ts";
import { readManifest } from "../job/manifest.ts";
import type { Manifest } from "../job/manifest.ts";
import { loadNodeConfig } from "./config.ts";
import type { NodeConfig } from "./config.ts";
import { lookupAccount } from "./account.ts";
import type { Account } from "./account.ts";
import { currentSlurmJob, jobHosts, slurmBatchScript } from "./slurm_job.ts";
import type { SlurmJob } from "./slurm_job.ts";
import {
  checkAllocation,
  coordinate,
  nodeIndex,
  partDirName,
  partLine,
  readVerdict,
  READY_LINE,
  refuseLonePart,
} from "./across_nodes.ts";
import { checkManifest } from "./check_manifest.ts";
import { executeScript } from "./execute.ts";
import { requireSigningKey, writeReceipt } from "./write_receipt.ts";

export interface DecryptAndExecuteInput {
  /** --config; the flags below override single settings. */
  configFile?: string;
  nodeKey?: string;
  signersDir?: string;
  stateDir?: string;
  /** Outside Slurm: the batch script and its signature (default SCRIPT.sig). */
  script?: string;
  signature?: string;
  /** Outside Slurm: the job's account (default: the caller). */
  user?: string;
  /** What arrived on stdin (the here-document); undefined when stdin is a terminal. */
  stdin: Uint8Array | undefined;
  /**
   * One node's part of a job of several nodes (started by the coordinator
   * through srun): the message comes from the signed script, and stdin
   * carries the coordinator's verdict instead.
   */
  part?: { stdin: ReadableStream<Uint8Array>; stdout: (line: string) => void };
  passphrase?: PassphraseSource;
  /** Progress lines for the job log (never plaintext). */
  notify?: (line: string) => void;
  now?: Date;
}

export interface DecryptAndExecuteOutput {
  exitCode: number;
  user: string;
  manifest: Manifest | undefined;
  signer: string;
}

interface Caller {
  uid: number | null;
  /** Set when root runs us on behalf of a user through sudo. */
  sudoUid: number | undefined;
  sudoUser: string | undefined;
}

interface JobRef {
  script: string;
  signature: string;
  account: Account;
  /** Slurm's record, when inside Slurm. */
  slurm: SlurmJob | undefined;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

function caller(): Caller {
  const uid = Deno.uid();
  const sudoUid = uid === 0 && env("SUDO_UID") !== undefined ? Number(env("SUDO_UID")) : undefined;
  return { uid, sudoUid, sudoUser: sudoUid === undefined ? undefined : env("SUDO_USER") };
}

/**
 * Through sudo the caller is an ordinary user: settings that choose whose keys
 * are trusted or where nonces live must come from root's config only.
 */
function refuseOverridesThroughSudo(input: DecryptAndExecuteInput, who: Caller): void {
  if (who.sudoUid === undefined) return;
  const given = [
    ["--config", input.configFile],
    ["--node-key", input.nodeKey],
    ["--signers", input.signersDir],
    ["--state", input.stateDir],
  ].filter(([, v]) => v !== undefined).map(([flag]) => flag);
  if (given.length > 0) {
    throw refusal(`${given.join(", ")} cannot be used through sudo`, {
      hint: "the node's settings come from /etc/sealbatch/node.yaml when run as root for a user",
    });
  }
}

async function findJob(input: DecryptAndExecuteInput, who: Caller): Promise<JobRef> {
  let script: string;
  let claimed: string;
  let slurm: SlurmJob | undefined;
  if (input.script === undefined) {
    const id = env("SLURM_JOB_ID");
    if (id === undefined) {
      throw usageError("not inside a Slurm job (no SLURM_JOB_ID)", {
        hint: "outside Slurm give --script run.sh (and --signature if it is not run.sh.sig)",
      });
    }
    const job = await currentSlurmJob(id);
    if (input.user !== undefined && input.user !== job.user) {
      throw refusal(`Slurm job ${q(id)} belongs to ${q(job.user)}, not to ${q(input.user)}`);
    }
    script = job.command;
    claimed = job.user;
    slurm = job;
  } else {
    script = input.script;
    claimed = input.user ?? who.sudoUser ?? localUser();
  }
  const account = await lookupAccount(claimed);
  if (who.sudoUid !== undefined && account.uid !== who.sudoUid) {
    throw refusal(
      `the job belongs to ${
        q(account.name)
      } (uid ${account.uid}), but uid ${who.sudoUid} asked to run it`,
    );
  }
  if (who.uid !== 0 && who.uid !== null && account.uid !== who.uid) {
    throw refusal(
      `the job belongs to ${q(account.name)}; running it as uid ${who.uid} needs root (sudo)`,
    );
  }
  return { script, signature: input.signature ?? `${script}.sig`, account, slurm };
}

/** Any error from a check on the job itself becomes a refusal with the same text. */
function asRefusal(err: unknown): SealbatchError {
  if (err instanceof SealbatchError && err.kind === "refused") return err;
  return refusal(err instanceof SealbatchError ? err.message : reason(err));
}

async function applyOverrides(input: DecryptAndExecuteInput): Promise<NodeConfig> {
  const config = await loadNodeConfig(input.configFile);
  return {
    ...config,
    ...(input.nodeKey !== undefined ? { nodeKey: input.nodeKey } : {}),
    ...(input.signersDir !== undefined ? { signersDir: input.signersDir } : {}),
    ...(input.stateDir !== undefined ? { stateDir: input.stateDir } : {}),
  };
}

export async function decryptAndExecute(
  input: DecryptAndExecuteInput,
): Promise<DecryptAndExecuteOutput> {
  const part = input.part;
  if (part === undefined) return await runJob(input);
  // A part tells the coordinator how it ended: "done" with its script's status once the command
  // ran, else "failed" with the exit code, so the coordinator stops every node with that code.
  // Its own exit status is 0 for "done": Slurm stops the other parts when one exits otherwise.
  const seen: PartProgress = { index: undefined, toldStatus: false };
  try {
    const out = await runJob(input, seen);
    if (seen.toldStatus) {
      part.stdout(partLine.done(seen.index!, out.exitCode));
      return { ...out, exitCode: 0 };
    }
    part.stdout(partLine.failed(seen.index, out.exitCode || 1));
    return { ...out, exitCode: out.exitCode || 1 };
  } catch (err) {
    part.stdout(partLine.failed(seen.index, err instanceof SealbatchError ? err.exitCode : 1));
    throw err;
  }
}

interface PartProgress {
  index: number | undefined;
  /** The coordinator's verdict (the command's status) reached the script. */
  toldStatus: boolean;
}

async function runJob(
  input: DecryptAndExecuteInput,
  seen?: PartProgress,
): Promise<DecryptAndExecuteOutput> {
  const notify = input.notify ?? (() => {});
  const who = caller();
  refuseOverridesThroughSudo(input, who);
  if (input.part !== undefined) {
    if (input.script !== undefined) throw usageError("--node-part cannot be used with --script");
    refuseLonePart(env("SLURM_JOB_ID"));
  }
  const config = await applyOverrides(input);
  const job = await findJob(input, who);
  const slurmJob = job.slurm?.id;
  const user = job.account.name;
  const jobDir = job.script.includes("/")
    ? job.script.slice(0, job.script.lastIndexOf("/")) || "/"
    : ".";
  // The shared file system may be someone else's: a job directory others can write is refused.
  await checkJobDir(jobDir, job.account.uid);
  const rules = (label: string, maxBytes: number) => ({ uid: job.account.uid, maxBytes, label });

  // 2. Signature by the job user's registered key, over the exact bytes.
  // Inside Slurm the bytes checked are the ones Slurm stored and bash runs,
  // not the shared file, which could differ by now.
  const scriptLimit = ARMOR_LIMITS.message + 4096;
  const scriptBytes = slurmJob === undefined
    ? await readJobFile(job.script, rules(`batch script ${q(job.script)}`, scriptLimit))
    : await slurmBatchScript(slurmJob, scriptLimit).catch((err) => {
      throw asRefusal(err);
    });
  const sigBytes = await readJobFile(
    job.signature,
    rules(`signature ${q(job.signature)}`, ARMOR_LIMITS.signature),
  );
  const signerFile = `${config.signersDir}/${user}.asc`;
  if (!(await exists(signerFile))) {
    throw refusal(`no signing key is registered for ${q(user)} on this node (${q(signerFile)})`);
  }
  const signerKey = await readPublicKeyFile(signerFile, "registered key");
  const verified = await verifyDetached(
    scriptBytes,
    sigBytes,
    signerKey,
    `batch script ${q(job.script)}`,
  );

  // 3. The message bash fed us must be the one in the signed script.
  let message: string;
  try {
    message = unwrapRunScript(new TextDecoder("utf-8", { fatal: true }).decode(scriptBytes));
  } catch (err) {
    throw asRefusal(err);
  }
  // A part's stdin is the coordinator's channel: its message is the signed script's own.
  const received = input.part !== undefined
    ? message
    : input.stdin === undefined
    ? ""
    : new TextDecoder().decode(input.stdin);
  if (received.trim() === "") {
    if (slurmJob !== undefined) throw refusal("no job message on stdin");
  } else if (normalizeArmor(received) !== normalizeArmor(message)) {
    throw refusal("the message on stdin is not the one in the signed batch script");
  }

  // 4. Decrypt, then hold the job to its manifest.
  const nodeKey = await readPrivateKeyFile(config.nodeKey, "node key", input.passphrase);
  let payload: Uint8Array;
  try {
    payload = await decryptMessage(message, nodeKey, "the job message");
  } catch (err) {
    throw asRefusal(err);
  }
  const signer = verified.fingerprint.toUpperCase();
  const text = new TextDecoder().decode(payload);
  const peeked = peekManifest(text);
  // A job of several nodes: every node checks the allocation; the first one coordinates.
  let across: { hosts: string[]; index: number } | undefined;
  if (peeked?.nodes !== undefined || input.part !== undefined) {
    let hosts: string[];
    try {
      hosts = await allocation(peeked, job.slurm, config.workDir);
      if (input.part !== undefined) across = { hosts, index: nodeIndex(hosts, selfName()) };
    } catch (err) {
      payload.fill(0);
      throw err;
    }
    if (across === undefined) {
      payload.fill(0);
      if (peeked!.results !== undefined) await requireSigningKey(nodeKey);
      return await coordinateJob({
        manifest: peeked!,
        account: job.account,
        slurm: job.slurm!,
        hosts,
        workDir: config.workDir!,
        jobDir,
        signer,
        nodeKey,
        notify,
      });
    }
    if (seen) seen.index = across.index;
  }
  // Created before the nonce is claimed, so a node without usable private
  // storage does not burn the job.
  let dir: PrivateDir | undefined;
  // A part: the coordinator's verdict (the command's status, or stop) is read from the start.
  const stop = new AbortController();
  let toScript: ReadableStreamDefaultController<Uint8Array> | undefined;
  const scriptStdin = input.part &&
    new ReadableStream<Uint8Array>({ start: (c) => void (toScript = c) });
  if (input.part) {
    readVerdict(input.part.stdin).then((v) => {
      if (v?.kind === "status") {
        toScript?.enqueue(new TextEncoder().encode(`${v.code}\n`));
        if (seen) seen.toldStatus = true;
      } else stop.abort();
      toScript?.close();
    });
  }
  try {
    dir = await makePrivateDir(
      across ? partDirName(slurmJob!, across.index) : "sealbatch-job",
      {
        ...(config.workDir ? { base: config.workDir } : {}),
        ...(across ? { exactName: true } : {}),
      },
    );
    // A receipt needs a node key that signs; checked before the nonce is claimed, too.
    if (!across && peeked?.results !== undefined) await requireSigningKey(nodeKey);
    const copies = `${dir.path}/inputs`;
    await Deno.mkdir(copies, { mode: 0o700 });
    if (Deno.uid() === 0) await Deno.chown(copies, job.account.uid, job.account.gid);
    const manifest = await checkManifest({
      payload: text,
      user,
      jobDir,
      stateDir: config.stateDir,
      acceptUnmanifested: config.acceptUnmanifested,
      now: input.now ?? new Date(),
      copies,
      account: job.account,
      ...(across ? { nodeIndex: across.index } : {}),
      // In a job (Slurm's, or the local executor's): the client reads the stage back from the log.
      ...(slurmJob !== undefined || env("SLURM_JOB_NAME") !== undefined
        ? { tellFailure: (line: string) => console.error(line) }
        : {}),
    });
    notify(
      manifest
        ? `job ${manifest.job} verified (signed by ${verified.fingerprint.toUpperCase()}), running as ${user}`
        : `job without manifest accepted (accept_unmanifested), signed by ${verified.fingerprint.toUpperCase()}, running as ${user}`,
    );

    // Another node failed while this one checked: nothing runs here either.
    if (stop.signal.aborted) {
      throw refusal("another node of the job failed: stopped before the command");
    }

    // 5. Run, then sign what the job left (also when it failed).
    const startedAt = new Date();
    const exitCode = await executeScript({
      payload,
      account: job.account,
      cwd: jobDir,
      dir,
      env: {
        ...scriptEnv(config, manifest, slurmJob, configPath(input)),
        // The verified copies of the inputs: the only ones the job may use.
        ...(manifest ? { SEALBATCH_INPUTS: copies } : {}),
        ...(across
          ? {
            SEALBATCH_NODE_INDEX: String(across.index),
            SEALBATCH_NODES: String(across.hosts.length),
            SLURM_NODEID: String(across.index),
          }
          : {}),
      },
      sealed: manifest?.results !== undefined,
      ...(input.part && scriptStdin
        ? {
          stdin: scriptStdin,
          signal: stop.signal,
          onProgress: (line: string) => {
            if (line === READY_LINE) input.part!.stdout(partLine.ready(across!.index));
          },
        }
        : {}),
    });
    const results = manifest?.results;
    // A part's receipt is the coordinator's, over every node's results.
    if (manifest !== undefined && results !== undefined && !across) {
      await writeReceipt({
        jobDir,
        manifest: { ...manifest, results },
        account: job.account,
        slurmJob,
        signer,
        nodeKey,
        startedAt,
        endedAt: new Date(),
        exitCode,
      });
      notify(`receipt written (exit status ${exitCode})`);
    }
    return { exitCode, user, manifest, signer };
  } finally {
    payload.fill(0);
    await dir?.remove();
    stop.abort();
  }
}

/** The allocation's nodes, when it is the one the job was sealed for (refused otherwise). */
async function allocation(
  manifest: Manifest | undefined,
  slurm: SlurmJob | undefined,
  workDir: string | undefined,
): Promise<string[]> {
  const nodes = manifest?.nodes;
  if (manifest === undefined || nodes === undefined) {
    throw refusal("--node-part: the job was not sealed for several nodes");
  }
  if (slurm === undefined) {
    throw refusal(`job ${q(manifest.job)} of ${nodes} nodes runs only inside Slurm`);
  }
  const hosts = await jobHosts(slurm).catch((err) => {
    throw asRefusal(err);
  });
  checkAllocation({ job: manifest.job, nodes, hosts, workDir });
  return hosts;
}

/** This node's name as Slurm knows it (slurmd sets SLURMD_NODENAME in every step). */
function selfName(): string {
  return env("SLURMD_NODENAME") ?? Deno.hostname();
}

interface CoordinateJobInput {
  manifest: Manifest;
  account: Account;
  slurm: SlurmJob;
  hosts: string[];
  workDir: string;
  jobDir: string;
  signer: string;
  nodeKey: Awaited<ReturnType<typeof readPrivateKeyFile>>;
  notify: (line: string) => void;
}

/** The first node of a job of several nodes: start it on all, then sign the receipt. */
async function coordinateJob(c: CoordinateJobInput): Promise<DecryptAndExecuteOutput> {
  const startedAt = new Date();
  const out = await coordinate({
    slurmJob: c.slurm.id,
    account: c.account,
    hosts: c.hosts,
    tasksPerNode: c.manifest.tasks_per_node ?? 1,
    workDir: c.workDir,
    notify: c.notify,
  });
  const results = c.manifest.results;
  if (results !== undefined && out.ran) {
    await writeReceipt({
      jobDir: c.jobDir,
      manifest: { ...c.manifest, results },
      account: c.account,
      slurmJob: c.slurm.id,
      signer: c.signer,
      nodeKey: c.nodeKey,
      startedAt,
      endedAt: new Date(),
      exitCode: out.exitCode,
      hosts: c.hosts,
    });
    c.notify(`receipt written (exit status ${out.exitCode})`);
  }
  return { exitCode: out.exitCode, user: c.account.name, manifest: c.manifest, signer: c.signer };
}

/** The manifest if it parses; checkManifest reports any problem with it. */
function peekManifest(payload: string): Manifest | undefined {
  try {
    return readManifest(payload);
  } catch {
    return undefined;
  }
}

/** The node config file in use, absolute (the script runs elsewhere), unless it is the default. */
function configPath(input: DecryptAndExecuteInput): string | undefined {
  const path = input.configFile ?? env("SEALBATCH_NODE_CONFIG");
  if (path === undefined) return undefined;
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/** Variables the command script may use; no secrets. */
function scriptEnv(
  config: NodeConfig,
  manifest: Manifest | undefined,
  slurmJob: string | undefined,
  configFile: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  // The script's own `sealbatch node ...` calls use the same node config.
  if (configFile !== undefined) out.SEALBATCH_NODE_CONFIG = configFile;
  if (manifest) out.SEALBATCH_JOB_ID = manifest.job;
  if (slurmJob) out.SLURM_JOB_ID = slurmJob;
  for (const name of ["SLURM_JOB_NAME", "SLURM_SUBMIT_DIR", "SLURM_JOB_USER"]) {
    const value = env(name);
    if (value !== undefined) out[name] = value;
  }
  if (config.vaultAddr) out.VAULT_ADDR = config.vaultAddr;
  if (config.vaultCacert) out.VAULT_CACERT = config.vaultCacert;
  return out;
}
