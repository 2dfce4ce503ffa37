/**
 * `sealbatch run`: one job from spec to results. Each step is recorded in
 * the job's state directory (<project>/.sealbatch/jobs/<JOB>/, 0700) when it
 * finishes, so a second run after an interruption continues where the first
 * stopped: no second escrow, no second upload of a verified file, and a
 * submitted job is waited for, never submitted again.
 *
 * The state directory holds the job's LUKS key (0600, wiped after revoke),
 * the local containers (ciphertext) and the state file (hashes and ids only).
 * The escrow credentials exist in memory and inside the encrypted run.sh; the
 * key record (kms) keeps the wrapping tokens so they can be revoked.
 */
import type { JobSpec } from "../config/job_spec.ts";
import type { SiteProfile } from "../config/site.ts";
import { resultsOfNode } from "../job/manifest.ts";
import type { OutputsFrom } from "../job/manifest.ts";
import { type PassphraseSource, readPrivateKeyFile, readPublicKeyFile } from "../pgp/keys.ts";
import { loadKey, sealDirectory } from "../luks/seal.ts";
import { checkKey, openContainer, usableHeader } from "../luks/open.ts";
import { Jobs } from "../luks/jobs.ts";
import { isFreeTarget } from "../luks/tree.ts";
import { buildImage } from "../image/build.ts";
import { guardImageUpload } from "../image/guard.ts";
import { writeImageKeyPair } from "../image/keys.ts";
import type { Credentials, KeyMode } from "../kms/credentials.ts";
import { credentialsOf, escrowJob, kvPathFor } from "../kms/escrow.ts";
import { revokeJob } from "../kms/followup.ts";
import { markJobStarted, readRecord, recordExists, recordPath } from "../kms/job_record.ts";
import type { VaultClient } from "../kms/vault_client.ts";
import { sealJob } from "../job/seal.ts";
import { parseReceipt, type Receipt, verifyReceipt } from "../job/receipt.ts";
import { describeFailure, FAILURE_HINTS, type NodeLog, parseNodeLog } from "../job/progress.ts";
import { renderSealbatchScript } from "../render/sealbatch.ts";
import { sbatchArgs } from "../slurm/slurm.ts";
import { onCleanup } from "../util/cleanup.ts";
import { inputError, q, reason, SealbatchError, usageError } from "../util/errors.ts";
import { exists, readTextCapped, sha256File } from "../util/files.ts";
import { wipeFile, wipeTree, writeSecretFile } from "../util/secret_file.ts";
import { localUser } from "../util/user.ts";
import type { Backend, JobResult } from "./backend.ts";
import { type CheckLine, checksFailed } from "../remote/check.ts";
import { RunState } from "./state.ts";

export { type StepName, STEPS } from "./steps.ts";
import type { StepName } from "./steps.ts";

export interface RunEvent {
  job: string;
  step: StepName;
  /** start/done/skipped frame a step; progress and note happen inside one. */
  phase: "start" | "done" | "skipped" | "progress" | "note";
  ms?: number;
  detail?: string;
  done?: number;
  total?: number;
}

/** Runs `fn` when a slot is free (cohorts bound escrow and uploads with it). */
export type Gate = <T>(fn: () => Promise<T>) => Promise<T>;

export interface RunInput {
  spec: JobSpec;
  site: SiteProfile | undefined;
  backend: Backend;
  vault: VaultClient;
  /** <project>/.sealbatch/jobs/<JOB> */
  stateDir: string;
  dryRun: boolean;
  signKey: string;
  passphrase?: PassphraseSource;
  /** The node's armored public key file. */
  nodePublicKey: string;
  nodeCommand: string[];
  onEvent?: (e: RunEvent) => void;
  /** Default: the state directory's name. */
  jobId?: string;
  /** HPC account the job runs as (default: the site user, else the local user). */
  user?: string;
  /**
   * Cohorts: `seal` bounds the local steps (CPU: mkfs, cryptsetup), `submit`
   * the steps from escrow to submission (mostly waiting on Vault and the site).
   */
  gates?: { seal: Gate; submit: Gate };
}

export interface StepSummary {
  name: StepName;
  ms: number;
  /** Finished in an earlier, interrupted run. */
  resumed: boolean;
  protection: string;
}

export interface FileSummary {
  name: string;
  bytes: number;
  sha256: string;
  /** Already on the site with the same SHA-256: not sent again. */
  skipped: boolean;
  /** Bytes an interrupted earlier upload had sent; this one continued after them. */
  resumedFrom?: number;
}

export interface RunSummary {
  job: string;
  stateDir: string;
  dryRun: boolean;
  steps: StepSummary[];
  uploads: FileSummary[];
  /** Remote checks (dry run). */
  checks?: CheckLine[];
  /** What would be submitted (dry run). */
  wouldSubmit?: string[];
  slurmJob?: string;
  /** Slurm's terminal state. */
  state?: string;
  /** Exit status of the job's command, from the signed receipt. */
  exitCode?: number;
  receipt?: Receipt;
  outputs?: string;
  /** The job's stderr (from inside the results container) when the command failed. */
  stderr?: string;
  /** The fixed progress lines of the Slurm log, and which node step failed. */
  node?: NodeLog;
  /** Things the researcher should know, e.g. plaintext that was staged on disk. */
  warnings?: string[];
}

interface SealedJob {
  nonce: string;
  notAfter: string;
  signer: string;
  node: string;
}

interface Fetched {
  receipt: string;
  signature: string;
  results: { path: string; sha256: string; bytes: number } | null;
  /** A job of several nodes that keeps every node's results: node I > 0's, by index. */
  nodeResults?: Record<number, { path: string; sha256: string; bytes: number }>;
  log?: NodeLog;
}

const RESULTS = "output.results.img";
const MAX_STDERR_SHOWN = 64 * 1024;

export function protections(o: {
  image: boolean;
  keyMode: KeyMode;
  wrapTtlMs: number;
  backend: Backend;
}): Record<StepName, string> {
  return {
    "plan": "state directory 0700, files 0600",
    "seal-input": "LUKS2 container, random 64-byte key kept 0600 in the state directory",
    "image": o.image ? "encrypted SIF, checked before upload" : "no image",
    "escrow": `Vault, ${o.keyMode}: single-use wrapped credentials, valid ${
      Math.round(o.wrapTtlMs / 3_600_000)
    }h`,
    "seal-job": "OpenPGP: encrypted to the node key, signed; manifest with nonce, expiry, hashes",
    // Transport and scheduler differ per backend: each says what is true for it.
    "upload": o.backend.protects.upload,
    "submit": o.backend.protects.submit,
    "wait": o.backend.protects.wait,
    "fetch": o.backend.protects.fetch,
    "verify-receipt": "signature by the node key; job id, nonce and results hash must match",
    "open-results": "decrypted on this machine only",
    "revoke": "Vault secrets deleted, unused credentials spent, local keys wiped",
  };
}

async function removeIfExists(...paths: string[]): Promise<void> {
  for (const p of paths) await Deno.remove(p).catch(() => {});
}

/** A hard link when possible (same file system), else a copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await removeIfExists(to);
  try {
    await Deno.link(from, to);
  } catch {
    await Deno.copyFile(from, to);
  }
}

async function fileSummary(path: string, skipped: boolean): Promise<FileSummary> {
  const info = await Deno.stat(path);
  return {
    name: path.slice(path.lastIndexOf("/") + 1),
    bytes: info.size,
    sha256: await sha256File(path),
    skipped,
  };
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/**
 * Each passphrase is asked once per run: the local check unlocks the signing
 * key, sealing run.sh unlocks it again later (and a cohort once per job).
 */
export function rememberPassphrases(source: PassphraseSource): PassphraseSource {
  const known = new Map<string, Promise<string>>();
  return (label) => {
    let p = known.get(label);
    if (!p) {
      p = source(label);
      known.set(label, p);
      p.catch(() => known.delete(label));
    }
    return p;
  };
}

export interface LocalCheckInput {
  spec: JobSpec;
  signKey: string;
  passphrase?: PassphraseSource;
  nodePublicKey: string;
  /** The job's state directory, when it may exist already (a resumed job). */
  stateDir?: string;
}

/**
 * Everything local that can fail, before the first remote or Vault call and
 * before anything is created: a run that cannot sign its job never escrows
 * keys for it, and a refused rerun leaves no empty job directory behind.
 */
export async function checkLocal(input: LocalCheckInput): Promise<void> {
  const { spec } = input;
  const resumed = input.stateDir !== undefined && (await exists(`${input.stateDir}/state.json`));
  const dir = input.stateDir?.replace(/\/+$/, "");
  const opened = resumed &&
    (await RunState.open(dir!, dir!.slice(dir!.lastIndexOf("/") + 1))).done("open-results");
  if (!opened && !(await isFreeTarget(spec.outputs))) {
    throw inputError(
      `cannot run ${q(spec.name)}: outputs directory ${q(spec.outputs)} is not empty`,
      {
        hint: "move the earlier results away, or set outputs: in the job spec to a new directory",
      },
    );
  }
  if (spec.input.kind === "none") throw noInput(spec);
  if (!resumed && !(await exists(spec.input.path))) {
    throw inputError(`cannot run ${q(spec.name)}: input ${q(spec.input.path)} does not exist`);
  }
  if (spec.image.kind === "sif" && !resumed && !(await exists(spec.image.path))) {
    throw inputError(`cannot run ${q(spec.name)}: image ${q(spec.image.path)} does not exist`);
  }
  await checkKeys(input);
}

/** A spec without input runs only with --each, which gives each job its own. */
export function noInput(spec: JobSpec): SealbatchError {
  return inputError(`${spec.path}: no input: the spec names neither input nor input_container`, {
    hint: "give input: DIR in the spec, or one job per input directory with --each 'GLOB'",
  });
}

/** The spec's input; a spec without one is refused. */
function inputOf(spec: JobSpec): Exclude<JobSpec["input"], { kind: "none" }> {
  if (spec.input.kind === "none") throw noInput(spec);
  return spec.input;
}

/** The keys a run needs, usable: the node's public key and the unlocked signing key. */
export async function checkKeys(
  input: Pick<LocalCheckInput, "signKey" | "passphrase" | "nodePublicKey">,
): Promise<void> {
  const node = await readPublicKeyFile(input.nodePublicKey, "node public key");
  if (!(await node.getEncryptionKey().catch(() => undefined))) {
    throw inputError(`node public key ${q(input.nodePublicKey)} has no encryption-capable key`, {
      hint: "get the secure nodes' public key from the site admins",
    });
  }
  // Unlocked now (a protected key without a terminal fails here, not after escrow).
  await readPrivateKeyFile(input.signKey, "signing key", input.passphrase);
}

/** A job of several nodes: its shape, from the spec over the site's defaults; undefined for one. */
export function acrossNodes(
  spec: JobSpec,
  site: SiteProfile | undefined,
): { nodes: number; tasksPerNode?: number; outputsFrom: OutputsFrom } | undefined {
  const nodes = spec.resources.nodes ?? site?.slurm.defaults.nodes ?? 1;
  if (nodes <= 1) return undefined;
  if (site === undefined) {
    throw usageError(
      `${spec.path}: resources.nodes is ${nodes}: a job of several nodes runs on a site's Slurm`,
      { hint: "give --site (the local executor stands in for one node)" },
    );
  }
  const tasksPerNode = spec.resources.tasksPerNode ?? site.slurm.defaults.tasksPerNode;
  return {
    nodes,
    ...(tasksPerNode !== undefined ? { tasksPerNode } : {}),
    outputsFrom: spec.outputsFrom,
  };
}

export async function runJob(input: RunInput): Promise<RunSummary> {
  const { spec, backend, vault } = input;
  const across = acrossNodes(spec, input.site);
  const source = inputOf(spec);
  const dir = input.stateDir.replace(/\/+$/, "");
  const job = input.jobId ?? dir.slice(dir.lastIndexOf("/") + 1);
  const project = dirname(dirname(dir)); // <project>/.sealbatch
  const user = input.user ?? input.site?.ssh.user ?? localUser();
  const keyMode: KeyMode = input.site?.vault.keyMode ?? "job-scoped";
  const wrapTtlMs = input.site?.vault.wrapTtlMs ?? 72 * 3_600_000;
  const mount = input.site?.vault.mount ?? "secret";
  if (across && keyMode === "reference") {
    throw usageError(
      `${spec.path}: a job of ${across.nodes} nodes needs job-scoped keys (one credential per node)`,
      { hint: "set vault.key_mode: job-scoped in the site profile" },
    );
  }
  /** Node I's results container on the site and here (node 0: RESULTS). */
  const nodeResults = (i: number) => resultsOfNode(RESULTS, i);
  const keptNodes = across?.outputsFrom === "all"
    ? Array.from({ length: across.nodes - 1 }, (_, i) => i + 1)
    : [];
  const ungated: Gate = (fn) => fn();
  const gates = input.gates ?? { seal: ungated, submit: ungated };
  const emit = (e: Omit<RunEvent, "job">) => input.onEvent?.({ job, ...e });
  if (input.site && input.site.node.flavour !== "sealbatch") {
    throw inputError(
      `site ${
        q(input.site.name)
      } uses the reference node flavour; sealbatch run drives the sealbatch flavour`,
      {
        hint: "seal reference-flavour jobs with 'sealbatch job seal' and the site's own templates",
      },
    );
  }

  const passphrase = input.passphrase && rememberPassphrases(input.passphrase);
  await checkLocal({
    spec,
    signKey: input.signKey,
    ...(passphrase ? { passphrase } : {}),
    nodePublicKey: input.nodePublicKey,
    stateDir: dir,
  });

  const f = {
    input: `${dir}/input.img`,
    image: `${dir}/image.sif`,
    keys: `${dir}/keys`,
    luksKey: `${dir}/keys/luks.key`,
    run: `${dir}/run.sh`,
    sig: `${dir}/run.sh.sig`,
    results: `${dir}/results`,
  };
  const state = await RunState.open(dir, job);
  await Deno.chmod(dir, 0o700);
  await Deno.chmod(dirname(dir), 0o700).catch(() => {});
  await Deno.chmod(project, 0o700).catch(() => {});
  const protect = protections({
    image: spec.image.kind !== "none",
    keyMode,
    wrapTtlMs,
    backend,
  });

  const step = async <T>(name: StepName, fn: () => Promise<T>): Promise<T> => {
    if (state.done(name)) {
      emit({ step: name, phase: "skipped", detail: "done in an earlier run" });
      return state.step(name, fn);
    }
    emit({ step: name, phase: "start" });
    const t0 = performance.now();
    const value = await state.step(name, fn);
    emit({ step: name, phase: "done", ms: Math.round(performance.now() - t0) });
    return value;
  };
  const warnings: string[] = [];
  /** Said as `data seal` says it: without room in memory, plaintext touched this disk. */
  const onDisk = (what: string, where: string) => {
    const text = `no memory-backed storage with room ($XDG_RUNTIME_DIR): ${what} staged ` +
      `plaintext on disk in ${where} (removed afterwards)`;
    warnings.push(text);
    emit({
      step: what === "sealing the input" ? "seal-input" : "open-results",
      phase: "note",
      detail: `warning: ${text}`,
    });
  };
  const summary = (extra: Partial<RunSummary>): RunSummary => ({
    job,
    stateDir: dir,
    dryRun: input.dryRun,
    steps: state.timings().map((t) => ({
      name: t.name as StepName,
      ms: Math.round(t.ms),
      resumed: t.resumed,
      protection: protect[t.name as StepName] ?? "",
    })),
    uploads: [],
    ...(warnings.length > 0 ? { warnings } : {}),
    ...extra,
  });

  await step("plan", () =>
    Promise.resolve({
      spec: spec.path,
      name: spec.name,
      input: source.path,
      outputs: spec.outputs,
      createdAt: new Date().toISOString(),
      // Where it went: `job status JOB` and friends find the site without --site.
      ...(input.site ? { site: input.site.path } : {}),
    }));

  const imageKeyPath = await gates.seal(() => localSteps());
  const fit = workDirWarning(
    state.get<FileSummary>("seal-input")?.bytes ?? 0,
    input.site?.node.workDirSize,
  );
  if (fit && !input.dryRun) emit({ step: "seal-input", phase: "note", detail: `warning: ${fit}` });
  async function localSteps(): Promise<string | undefined> {
    await step("seal-input", async () => {
      await Deno.mkdir(f.keys, { recursive: true, mode: 0o700 });
      await Deno.chmod(f.keys, 0o700);
      // What an interrupted attempt left behind is redone: it was never recorded.
      await removeIfExists(f.input);
      await wipeFile(f.luksKey);
      if (source.kind === "dir") {
        const sealed = await sealDirectory({
          source: source.path,
          out: f.input,
          key: { path: f.luksKey, create: true },
          // The command writes to {output}; the input is only read (on the node it
          // is opened into private storage, or mounted and discarded), so its
          // container is as small as its content allows: every byte is uploaded.
          size: "auto",
          headroom: { mib: 0 },
          revealNames: true,
          onPhase: (p) => emit({ step: "seal-input", phase: "note", detail: p }),
          // Yields the CPU to the steps of other jobs that wait on Vault and the site.
          background: true,
        });
        if (sealed.workedNearOutput) onDisk("sealing the input", dirname(f.input));
      } else {
        // A given container must open with the given key before it goes anywhere.
        const key = await loadKey(source.key);
        await using jobs = new Jobs();
        await checkKey(jobs, source.path, await usableHeader(source.path), key);
        await writeSecretFile(f.luksKey, key);
        await linkOrCopy(source.path, f.input);
      }
      return await fileSummary(f.input, false);
    });
    const image = await step("image", async () => {
      const img = spec.image;
      if (img.kind === "none") return { kind: "none" as const };
      await removeIfExists(f.image);
      let key: string | undefined;
      if (img.kind === "definition") {
        await wipeFile(`${f.keys}/rsa_pri.pem`);
        await removeIfExists(`${f.keys}/rsa_pub.pem`);
        const pair = await writeImageKeyPair(f.keys);
        key = pair.privateKey;
        await buildImage({
          definition: img.path,
          publicKey: pair.publicKey,
          out: f.image,
          stream: false,
          onLine: (line) => emit({ step: "image", phase: "note", detail: line }),
        });
      } else {
        key = img.key;
        await guardImageUpload(img.path, {
          ...(key ? { privateKey: key } : {}),
          ...(img.encrypted ? {} : { allowUnencrypted: true }),
        });
        await linkOrCopy(img.path, f.image);
      }
      return { kind: "sif" as const, key, ...(await fileSummary(f.image, false)) };
    });
    return image.kind === "sif" ? image.key : undefined;
  }

  // No output container travels: the node starts the output side empty under the job's key.
  const files = [f.input, ...(spec.image.kind !== "none" ? [f.image] : []), f.sig, f.run];
  const remoteDir = backend.jobDir(job);

  if (input.dryRun) return await dryRun();

  // Ctrl-C before the job is submitted: the credentials this run created are revoked.
  let armed = !state.done("submit");
  // A run.sh being written when Ctrl-C lands must be finished before it can be removed.
  let sealing: Promise<unknown> | undefined;
  const disarm = onCleanup(async () => {
    if (armed) await withdrawEscrow();
  });
  let slurmJob: string;
  try {
    slurmJob = await gates.submit(async () => {
      await step("escrow", async () => {
        // Killed after Vault answered but before the state was saved: the record is the truth.
        if (await recordExists(project, job)) {
          const record = await readRecord(project, job);
          if (!record.revoked_at) return { record: recordPath(project, job) };
          await Deno.rename(recordPath(project, job), `${dir}/keys.revoked.json`);
        }
        const keys = [{ name: "luks", file: f.luksKey }];
        if (imageKeyPath) keys.push({ name: "image", file: imageKeyPath });
        // Killed after Vault stored a key but before the record was saved: the secrets at this
        // job's paths are that attempt's, as this marker of it says, and are written afresh.
        const started = `${dir}/escrow.started`;
        const leftovers = await exists(started);
        await Deno.writeFile(started, new Uint8Array(), { mode: 0o600 });
        const r = await escrowJob(vault, {
          replaceLeftovers: leftovers,
          job,
          user,
          keys,
          mode: keyMode,
          // One credential per node and key: each node fetches its own, once.
          ...(across ? { nodes: across.nodes } : {}),
          ...(input.site?.vault.referencePolicy
            ? { policy: input.site.vault.referencePolicy }
            : {}),
          wrapTtlMs,
          mount,
          stateDir: project,
        });
        await Deno.remove(started);
        return { record: r.recordPath, expiresAt: r.record.expires_at };
      });
      const credentials = credentialsOf(await readRecord(project, job));
      await step("seal-job", () => (sealing = sealRun(credentials, dir)));
      const uploads = await step("upload", () => uploadAll());
      for (const u of uploads) {
        emit({
          step: "upload",
          phase: "note",
          detail: `${u.name}: ${
            u.skipped
              ? "already there, verified"
              : u.resumedFrom
              ? `continued after ${u.resumedFrom} bytes sent earlier, verified`
              : "sent, verified"
          }`,
        });
      }
      return await step("submit", () => backend.submit(remoteDir, spec.resources, job));
    });
  } catch (err) {
    armed = false;
    await afterFailureBeforeSubmit();
    throw err;
  } finally {
    armed = false;
    await disarm();
  }

  let result: JobResult;
  // Ctrl-C while waiting leaves the job running on the site; say how to come back.
  let waiting = true;
  const waitHint = onCleanup(() => {
    if (waiting) {
      emit({
        step: "wait",
        phase: "note",
        detail: `job ${job} keeps running (Slurm ${slurmJob}); run the same command again to ` +
          `resume, or cancel it: sealbatch job cancel ${job}`,
      });
    }
  });
  try {
    result = await step("wait", () =>
      backend.wait(slurmJob, (s) => {
        emit({ step: "wait", phase: "progress", detail: s });
        if (s === "RUNNING") markJobStarted(project, job).catch(() => {});
      }));
    waiting = false;
    await waitHint();
    const sealed = state.get<SealedJob>("seal-job")!;
    const fetched = await step("fetch", () => fetchResults(slurmJob, result));
    const receipt = await step("verify-receipt", async () =>
      verifyReceipt({
        receipt: new TextEncoder().encode(fetched.receipt),
        signature: fetched.signature,
        nodePublicKey: await readTextCapped(input.nodePublicKey, 1 << 20, "node public key"),
        expect: {
          job,
          nonce: sealed.nonce,
          ...(fetched.results ? { resultsSha256: fetched.results.sha256 } : {}),
          ...(across ? { nodes: across.nodes } : {}),
          ...(fetched.nodeResults
            ? {
              nodeResultsSha256: Object.fromEntries(
                Object.entries(fetched.nodeResults).map(([i, r]) => [i, r.sha256]),
              ),
            }
            : {}),
        },
      }));
    // Every node's results, each in its own directory; or the first node's in `outputs`.
    const outputsOf = (i: number) =>
      keptNodes.length > 0 ? `${spec.outputs}/node-${i}` : spec.outputs;
    if (fetched.results) {
      await step("open-results", async () => {
        const opened = { out: spec.outputs, files: 0, bytes: 0 };
        for (const i of [0, ...keptNodes]) {
          await Deno.mkdir(dirname(outputsOf(i)), { recursive: true });
          const r = await openContainer({
            image: `${f.results}/${nodeResults(i)}`,
            keyPath: f.luksKey,
            out: outputsOf(i),
            force: false,
            revealNames: true,
          });
          if (r.workedNearOutput) onDisk("opening the results", dirname(outputsOf(i)));
          opened.files += r.files;
          opened.bytes += r.bytes;
        }
        return opened;
      });
    }
    await step("revoke", async () => {
      const r = await revokeJob(vault, project, await readRecord(project, job));
      await wipeTree(f.keys);
      await removeIfExists(
        f.input,
        f.image,
        ...[0, ...keptNodes].map((i) => `${f.results}/${nodeResults(i)}`),
      );
      return r;
    });
    const stderr = receipt.exit_code !== 0 && fetched.results
      ? await readTextCapped(`${outputsOf(0)}/job.stderr`, MAX_STDERR_SHOWN, "job stderr")
        .catch(() => undefined)
      : undefined;
    return summary({
      slurmJob,
      state: result.state,
      exitCode: receipt.exit_code,
      receipt,
      uploads: state.get<FileSummary[]>("upload") ?? [],
      ...(fetched.results ? { outputs: spec.outputs } : {}),
      ...(stderr !== undefined ? { stderr } : {}),
      ...(fetched.log ? { node: fetched.log } : {}),
    });
  } catch (err) {
    waiting = false;
    await waitHint();
    // The job has ended (or was given up on): its keys are not needed in Vault any more.
    // Local keys stay so that a second run can still fetch and open the results.
    if (state.done("wait") && !state.done("revoke") && (await recordExists(project, job))) {
      await revokeJob(vault, project, await readRecord(project, job)).catch(() => {});
    }
    throw err;
  }

  /**
   * The SHA-256 the local steps recorded when they made `file`: not hashed a
   * second time for the manifest. If the file changed since, its upload shows
   * it (checkedAgainstState), and the node refuses it by the manifest's hash.
   */
  function knownHash(file: string): string | undefined {
    const made = file === f.input ? "seal-input" : file === f.image ? "image" : undefined;
    return made === undefined ? undefined : state.get<{ sha256?: string }>(made)?.sha256;
  }
  function withKnownHash(file: string): string | { file: string; sha256: string } {
    const sha256 = knownHash(file);
    return sha256 === undefined ? file : { file, sha256 };
  }
  /** An upload must be the file the manifest names: refused before submission otherwise. */
  function checkedAgainstState(file: string, sent: FileSummary): FileSummary {
    const want = knownHash(file);
    if (want !== undefined && sent.sha256 !== want) {
      throw new SealbatchError(
        "refused",
        `cannot submit ${job}: ${sent.name} changed after the job was sealed`,
        { hint: "start the job afresh with --new" },
      );
    }
    return sent;
  }

  async function sealRun(credentials: Credentials, outDir: string): Promise<SealedJob> {
    await removeIfExists(`${outDir}/run.sh`, `${outDir}/run.sh.sig`);
    const script = renderSealbatchScript({
      nodeCommand: input.nodeCommand,
      credentials,
      command: spec.command,
      ...(spec.image.kind !== "none" ? { image: { file: "image.sif" as const } } : {}),
      input: "input.img",
      output: "output.img",
      results: RESULTS,
      ...(spec.outputSize === "auto" ? {} : { outputSize: spec.outputSize }),
      ...(across ? { nodes: { count: across.nodes, keepAll: across.outputsFrom === "all" } } : {}),
    });
    const out = await sealJob({
      command: { text: script },
      nodeKey: input.nodePublicKey,
      signKey: input.signKey,
      ...(passphrase ? { passphrase } : {}),
      outDir,
      user,
      expiresMs: wrapTtlMs,
      inputs: files.slice(0, -2).map(withKnownHash),
      results: RESULTS,
      jobId: job,
      ...(across ? { across } : {}),
    });
    return {
      nonce: out.manifest.nonce,
      notAfter: out.manifest.not_after,
      signer: out.signer,
      node: out.node,
    };
  }

  async function uploadAll(): Promise<FileSummary[]> {
    const name = (file: string) => file.slice(file.lastIndexOf("/") + 1);
    // run.sh last (files ends with it): a job directory with a run.sh is complete.
    const sent = await backend.upload(
      files,
      remoteDir,
      (file, done, total) =>
        emit({ step: "upload", phase: "progress", detail: name(file), done, total }),
    );
    return sent.map((r, i) =>
      checkedAgainstState(files[i]!, {
        name: name(files[i]!),
        bytes: r.bytes,
        sha256: r.sha256,
        skipped: r.skipped,
        ...(r.resumedFrom > 0 ? { resumedFrom: r.resumedFrom } : {}),
      })
    );
  }

  async function fetchResults(id: string, result: JobResult): Promise<Fetched> {
    await Deno.mkdir(f.results, { recursive: true, mode: 0o700 });
    const get = async (name: string) => {
      const local = `${f.results}/${name}`;
      await backend.download(`${remoteDir}/${name}`, local);
      return local;
    };
    // The Slurm log holds progress lines only; kept for `job show`, read for what failed.
    const log = await get(`slurm-${id}.out`)
      .then((p) => readTextCapped(p, 1 << 20, "Slurm log"))
      .then(parseNodeLog, () => undefined);
    let receiptPath: string, sigPath: string;
    try {
      receiptPath = await get("receipt.json");
      sigPath = await get("receipt.json.sig");
    } catch (err) {
      const why = log && describeFailure(log);
      throw new SealbatchError(
        "job",
        `job ${job} (Slurm ${id}) ended ${result.state} without a receipt: ${why ?? reason(err)}`,
        {
          hint: [
            ...(log?.lines ?? []),
            (log?.failure && FAILURE_HINTS[log.failure.class]) ??
              `the node did not finish the job; see ${remoteDir}/slurm-${id}.out`,
          ].join("; "),
        },
      );
    }
    const receipt = await readTextCapped(receiptPath, 16 * 1024, "receipt");
    const signature = await readTextCapped(sigPath, 64 * 1024, "receipt signature");
    // Which file to fetch is read from the still unverified receipt; its signature and the
    // hash of what was fetched are checked in the next step.
    const claimed = parseReceipt(new TextEncoder().encode(receipt)).results;
    if (claimed === null) return { receipt, signature, results: null, ...(log ? { log } : {}) };
    if (claimed.path !== RESULTS) {
      throw new SealbatchError("refused", `the receipt names results ${q(claimed.path)}`);
    }
    const fetch = async (i: number) => ({
      path: nodeResults(i),
      ...await backend.download(`${remoteDir}/${nodeResults(i)}`, `${f.results}/${nodeResults(i)}`),
    });
    const results = await fetch(0);
    const nodeFetched: Record<number, Awaited<ReturnType<typeof fetch>>> = {};
    for (const i of keptNodes) nodeFetched[i] = await fetch(i);
    return {
      receipt,
      signature,
      results,
      ...(keptNodes.length > 0 ? { nodeResults: nodeFetched } : {}),
      ...(log ? { log } : {}),
    };
  }

  /**
   * A run that fails before submission: credentials that no sealed run.sh
   * holds yet are revoked; once run.sh is sealed (upload or submit failed on
   * the site), they are kept so that the same command resumes without a
   * second escrow, and the run says so.
   */
  async function afterFailureBeforeSubmit(): Promise<void> {
    if (!(await recordExists(project, job))) return;
    if (!state.done("seal-job")) {
      await withdrawEscrow().catch(() => {});
      emit({
        step: "escrow",
        phase: "note",
        detail:
          `the credentials escrowed for ${job} were revoked: this run failed before submission`,
      });
      return;
    }
    const until = state.get<{ expiresAt?: string }>("escrow")?.expiresAt;
    emit({
      step: "escrow",
      phase: "note",
      detail: `the credentials of ${job} stay in Vault${until ? ` until ${until}` : ""} so that ` +
        `running the same command again resumes without a second escrow; ` +
        `'sealbatch keys revoke --job ${job} --state ${project}' revokes them`,
    });
  }

  /** Undo escrow after an interruption before submission (the sealed run.sh embeds it). */
  async function withdrawEscrow(): Promise<void> {
    if (!(await recordExists(project, job))) return;
    const record = await readRecord(project, job);
    await revokeJob(vault, project, record);
    await Deno.rename(recordPath(project, job), `${dir}/keys.revoked.json`);
    await sealing?.catch(() => {});
    await removeIfExists(f.run, f.sig);
    for (const s of ["escrow", "seal-job", "upload"]) await state.forget(s);
  }

  async function dryRun(): Promise<RunSummary> {
    emit({ step: "escrow", phase: "skipped", detail: "dry run: nothing escrowed in Vault" });
    const tmp = await Deno.makeTempDir({ prefix: "sealbatch-dry-run-" });
    try {
      const placeholder: Credentials = {
        v: 1,
        kind: "sealbatch-credentials",
        mode: keyMode,
        job,
        user,
        vault_addr: vault.addr,
        expires_at: new Date(Date.now() + wrapTtlMs).toISOString(),
        keys: (spec.image.kind === "none" ? ["luks"] : ["luks", "image"]).map((name) => ({
          name,
          path: `${mount}/data/${kvPathFor(keyMode, user, job, name)}`,
          token: "hvs.dry-run-placeholder",
        })),
      };
      emit({ step: "seal-job", phase: "start" });
      await sealRun(placeholder, tmp);
      emit({
        step: "seal-job",
        phase: "done",
        detail: "dry run: sealed with placeholder credentials",
      });
      const checks = await backend.check(across ? { nodes: across.nodes } : {});
      if (across) {
        emit({
          step: "seal-job",
          phase: "note",
          detail: `a job of ${across.nodes} nodes` +
            (across.tasksPerNode ? `, ${across.tasksPerNode} tasks per node` : "") +
            ": every node verifies the job, decrypts it, checks its own copy of the input and " +
            "fetches its own keys before the command runs on any; " +
            (across.outputsFrom === "all"
              ? `every node's outputs come back (${spec.outputs}/node-0 .. node-${
                across.nodes - 1
              })`
              : `the first node's outputs come back (${spec.outputs}; outputs_from: all keeps every node's)`),
        });
      }
      if (fit) checks.push({ check: "work dir", ok: true, warning: true, detail: fit });
      const uploads: FileSummary[] = [];
      for (const file of files) {
        const local = file === f.run || file === f.sig
          ? `${tmp}/${file.slice(dir.length + 1)}`
          : file;
        uploads.push(await fileSummary(local, false));
      }
      const wouldSubmit = input.site
        ? [
          input.site.slurm.programs.sbatch,
          ...sbatchArgs(
            {
              partition: input.site.slurm.partition,
              exclusive: input.site.slurm.exclusive,
              programs: {},
              resources: { ...input.site.slurm.defaults, ...spec.resources },
            },
            `${remoteDir}/run.sh`,
            { jobName: job, output: `${remoteDir}/slurm-%j.out` },
          ),
        ]
        : [`${remoteDir}/run.sh`];
      return summary({ uploads, checks, wouldSubmit });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }
}

const MiB = 1024 * 1024;

/**
 * Whether an input container fits the node's work_dir as the site profile
 * states it: a rootless node holds a decrypted copy of the container and the
 * files extracted from it at the same time, so it needs about twice the
 * container. A warning, not a refusal: the statement may be out of date.
 */
export function workDirWarning(
  inputBytes: number,
  workDirSize: number | undefined,
): string | undefined {
  if (workDirSize === undefined || inputBytes <= 0) return undefined;
  const need = 2 * inputBytes;
  if (need <= workDirSize) return undefined;
  return `input.img (${Math.ceil(inputBytes / MiB)} MiB) will not fit the node's work_dir ` +
    `(${Math.floor(workDirSize / MiB)} MiB as the site profile states, node.work_dir_size): ` +
    `the node needs about ${Math.ceil(need / MiB)} MiB to open it`;
}

/** A readable one-liner of a finished job, for tables and notes. */
export function outcomeText(s: RunSummary): string {
  if (s.dryRun) return "dry run";
  if (s.node?.failure) {
    return `FAILED on the node (${s.node.failure.stage}: ${s.node.failure.class})`;
  }
  if (s.exitCode === undefined) return s.state ?? "unknown";
  return s.exitCode === 0 ? "COMPLETED" : `FAILED (exit ${s.exitCode})`;
}

/**
 * Why a finished job did not succeed, or undefined when it did: a node step
 * that failed (the command never ran) is told apart from the command failing.
 */
export function jobFailure(s: RunSummary): SealbatchError | undefined {
  if (s.dryRun) {
    // A dry run is the preflight gate: a failed site check fails it, as `site check` does.
    return checksFailed(s.checks ?? [], `dry run of ${s.job}`);
  }
  if (s.exitCode === 0 && s.state === "COMPLETED") return undefined;
  const node = s.node && describeFailure(s.node);
  const why = node ??
    (s.exitCode !== undefined && s.node && !s.node.commandStarted && s.node.lines.length > 0
      ? `the job script stopped with status ${s.exitCode} before your command ran`
      : s.exitCode !== undefined
      ? `your command exited with status ${s.exitCode}`
      : `Slurm reports ${s.state}`);
  const hint = node
    ? FAILURE_HINTS[s.node!.failure!.class] ?? "see the node's progress lines above"
    : s.outputs
    ? `its stdout and stderr are in ${s.outputs}`
    : undefined;
  return new SealbatchError("job", `job ${s.job} FAILED: ${why}`, hint ? { hint } : {});
}
