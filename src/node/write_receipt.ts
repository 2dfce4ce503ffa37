/**
 * After the job script: hash the results container the manifest names and
 * write receipt.json + receipt.json.sig (node key, over the exact bytes) into
 * the job directory, owned by the job user when running as root.
 */
import type { PrivateKey } from "openpgp";
import { readSignature } from "openpgp";
import { inputError, q, refusal, SealbatchError } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import { hashJobFile, writeOwnedFile } from "./job_files.ts";
import { signDetached } from "../pgp/sign.ts";
import { PGP_CONFIG } from "../pgp/config.ts";
import { buildReceipt, rfc3339 } from "../job/receipt.ts";
import type { ReceiptNode, ReceiptResults } from "../job/receipt.ts";
import { resultsOfNode } from "../job/manifest.ts";
import type { Manifest } from "../job/manifest.ts";
import type { Account } from "./account.ts";

export const RECEIPT_FILE = "receipt.json";

/**
 * A node key that cannot sign makes receipts impossible; this is checked
 * before the job runs, so the job is not spent for nothing.
 */
export async function requireSigningKey(key: PrivateKey): Promise<void> {
  try {
    await key.getSigningKey();
  } catch {
    throw refusal(
      "the job asks for a receipt, but the node key cannot sign (no signing-capable key)",
      {
        hint:
          "make the node key with `sealbatch keygen --kind node` (its primary key signs), or add a signing subkey",
      },
    );
  }
}

/**
 * The results file, opened once: a regular file of the job's account (never a
 * link the job or anyone else planted, which would have root hash a file of
 * their choosing into a signed receipt), or null.
 */
async function hashResults(
  jobDir: string,
  path: string,
  account: Account,
): Promise<ReceiptResults | null> {
  try {
    const got = await hashJobFile(`${jobDir}/${path}`, {
      uid: account.uid,
      maxBytes: Number.MAX_SAFE_INTEGER,
      label: `results ${path}`,
    });
    return { path, ...got };
  } catch (err) {
    if (err instanceof SealbatchError) return null;
    throw err;
  }
}

export interface WriteReceiptInput {
  jobDir: string;
  manifest: Manifest & { results: string };
  account: Account;
  slurmJob: string | undefined;
  signer: string;
  nodeKey: PrivateKey;
  startedAt: Date;
  endedAt: Date;
  exitCode: number;
  /** A job of several nodes: its nodes, in Slurm's order (the receipt names them all). */
  hosts?: string[];
}

/** Every node with the results it sealed; only node 0's count unless every node's are kept. */
async function nodeResults(
  input: WriteReceiptInput,
  hosts: string[],
  first: ReceiptResults | null,
): Promise<ReceiptNode[]> {
  const all = input.manifest.outputs_from === "all";
  return await Promise.all(hosts.map(async (host, i) => ({
    host,
    results: i === 0
      ? first
      : all
      ? await hashResults(input.jobDir, resultsOfNode(input.manifest.results, i), input.account)
      : null,
  })));
}

export async function writeReceipt(input: WriteReceiptInput): Promise<string> {
  const results = await hashResults(input.jobDir, input.manifest.results, input.account);
  const bytes = buildReceipt({
    job: input.manifest.job,
    nonce: input.manifest.nonce,
    user: input.account.name,
    slurm_job: input.slurmJob ?? null,
    signer: input.signer,
    results,
    started_at: rfc3339(input.startedAt),
    ended_at: rfc3339(input.endedAt),
    exit_code: input.exitCode,
    ...(input.hosts ? { nodes: await nodeResults(input, input.hosts, results) } : {}),
  });
  const binary = await signDetached(bytes, input.nodeKey, "node key");
  const armored = (await readSignature({ binarySignature: binary, config: PGP_CONFIG })).armor();
  const path = `${input.jobDir}/${RECEIPT_FILE}`;
  const files: [string, Uint8Array | string][] = [[path, bytes], [`${path}.sig`, armored]];
  // As root, the files are the job user's, given through the handle (a chown by path
  // would follow a link swapped into the job directory, to /etc/shadow say).
  const owner = Deno.uid() === 0 ? { uid: input.account.uid, gid: input.account.gid } : undefined;
  const written: string[] = [];
  try {
    for (const [file, data] of files) {
      if (await exists(file)) throw inputError(`cannot write ${q(file)}: it already exists`);
      await writeOwnedFile(file, data, owner);
      written.push(file);
    }
  } catch (err) {
    for (const file of written) await Deno.remove(file).catch(() => {});
    throw err;
  }
  return path;
}
