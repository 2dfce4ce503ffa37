/**
 * `job seal`: command script -> DIR/run.sh (reference format, the payload
 * encrypted to the node key) + DIR/run.sh.sig (detached signature by the
 * user). All checks, hashing and crypto happen before the first file is
 * written; a failure leaves no partial output.
 */
import { inputError, q } from "../util/errors.ts";
import { exists, readTextCapped, sha256File, writeFileAtomic } from "../util/files.ts";
import { NAME_RE } from "../util/user.ts";
import { readPrivateKeyFile, readPublicKeyFile } from "../pgp/keys.ts";
import type { PassphraseSource } from "../pgp/keys.ts";
import { encryptTo } from "../pgp/encrypt.ts";
import { signDetached } from "../pgp/sign.ts";
import { wrapRunScript } from "./envelope.ts";
import { buildPayload, checkInputPath } from "./manifest.ts";
import type { Manifest, OutputsFrom } from "./manifest.ts";

/** Command scripts are small text files; this bounds what is read. */
export const MAX_COMMAND_BYTES = 1024 * 1024;
export const DEFAULT_EXPIRY_MS = 7 * 86_400_000;

export interface SealJobInput {
  /** The command script: a file, or its text (for callers that render it). */
  command: { file: string } | { text: string };
  /** The node's armored public key file. */
  nodeKey: string;
  /** The user's armored secret key file (mode 0600). */
  signKey: string;
  /** Asked when the secret key is protected. */
  passphrase?: PassphraseSource;
  outDir: string;
  /** HPC account the job runs as; the node refuses the job for anyone else. */
  user: string;
  /** Validity from `now`; default 7 days. */
  expiresMs?: number;
  /**
   * Files the job reads, hashed into the manifest. A file below `outDir` is
   * named by its path relative to it, any other by its base name (it is
   * expected beside run.sh on the node). A caller that has just hashed a file
   * passes its SHA-256 (hex) along; the node checks it against the file all
   * the same.
   */
  inputs?: (string | { file: string; sha256: string })[];
  jobId?: string;
  /** Results container (relative to run.sh's directory) the node hashes into its receipt. */
  results?: string;
  /** A job of several nodes: how many, tasks per node, and whose results are kept. */
  across?: { nodes: number; tasksPerNode?: number; outputsFrom: OutputsFrom };
  now?: Date;
}

export interface SealJobOutput {
  runScript: string;
  signature: string;
  manifest: Manifest;
  /** Fingerprints (uppercase hex) of the signing and the node key. */
  signer: string;
  node: string;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Name an input as the node will find it, relative to the directory of
 * run.sh. The file's own name is kept (a symlink is not followed), since the
 * node looks the name up beside run.sh.
 */
async function inputName(file: string, outDir: string): Promise<string> {
  const slash = file.lastIndexOf("/");
  const base = file.slice(slash + 1);
  const [parent, dir] = await Promise.all([
    Deno.realPath(slash < 0 ? "." : file.slice(0, slash) || "/").catch(() => undefined),
    Deno.realPath(outDir).catch(() => undefined),
  ]);
  if (parent === undefined || !(await exists(file))) {
    throw inputError(`cannot read input ${q(file)}: no such file`);
  }
  const real = `${parent === "/" ? "" : parent}/${base}`;
  if (dir !== undefined && real.startsWith(`${dir}/`)) return real.slice(dir.length + 1);
  return base;
}

export async function sealJob(input: SealJobInput): Promise<SealJobOutput> {
  const now = input.now ?? new Date();
  const expiresMs = input.expiresMs ?? DEFAULT_EXPIRY_MS;
  const jobId = input.jobId ??
    `${now.toISOString().slice(0, 10).replaceAll("-", "")}-${randomHex(4)}`;
  if (!NAME_RE.test(input.user)) throw inputError(`invalid HPC account name ${q(input.user)}`);
  if (!NAME_RE.test(jobId)) throw inputError(`invalid job id ${q(jobId)}`);
  if (!(expiresMs > 0)) throw inputError("the expiry must be positive");

  const runScript = `${input.outDir}/run.sh`;
  const signature = `${runScript}.sig`;
  for (const path of [runScript, signature]) {
    if (await exists(path)) {
      throw inputError(`cannot write ${q(path)}: it already exists`, {
        hint: "seal each job into a new directory (a sealed job runs once)",
      });
    }
  }

  const command = "file" in input.command
    ? await readTextCapped(input.command.file, MAX_COMMAND_BYTES, "command script")
    : input.command.text;
  const names = new Map<string, { file: string; sha256?: string }>();
  for (const given of input.inputs ?? []) {
    const entry: { file: string; sha256?: string } = typeof given === "string"
      ? { file: given }
      : given;
    if (entry.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      throw inputError(`invalid SHA-256 for input ${q(entry.file)}`);
    }
    const name = checkInputPath(await inputName(entry.file, input.outDir));
    if (names.has(name)) throw inputError(`input ${q(name)} is given twice`);
    names.set(name, entry);
  }
  if (input.results !== undefined) checkInputPath(input.results);
  const nodeKey = await readPublicKeyFile(input.nodeKey, "node key");
  const inputs: Record<string, string> = {};
  for (const [name, e] of names) inputs[name] = e.sha256 ?? await sha256File(e.file);
  // Last: the secret key is unlocked only when nothing else can fail any more.
  const signKey = await readPrivateKeyFile(input.signKey, "signing key", input.passphrase);

  const manifest: Manifest = {
    v: 1,
    job: jobId,
    nonce: randomHex(16),
    not_after: new Date(now.getTime() + expiresMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
    user: input.user,
    inputs,
    ...(input.results !== undefined ? { results: input.results } : {}),
    ...(input.across
      ? {
        nodes: input.across.nodes,
        ...(input.across.tasksPerNode !== undefined
          ? { tasks_per_node: input.across.tasksPerNode }
          : {}),
        outputs_from: input.across.outputsFrom,
      }
      : {}),
  };
  const payload = new TextEncoder().encode(buildPayload(command, manifest));
  const message = await encryptTo(payload, nodeKey, `node key ${q(input.nodeKey)}`);
  const script = new TextEncoder().encode(wrapRunScript(message));
  const sig = await signDetached(script, signKey, `signing key ${q(input.signKey)}`);

  await Deno.mkdir(input.outDir, { recursive: true });
  await writeFileAtomic(runScript, script, { mode: 0o644 });
  try {
    await writeFileAtomic(signature, sig, { mode: 0o644 });
  } catch (err) {
    await Deno.remove(runScript).catch(() => {});
    throw err;
  }
  return {
    runScript,
    signature,
    manifest,
    signer: signKey.getFingerprint().toUpperCase(),
    node: nodeKey.getFingerprint().toUpperCase(),
  };
}
