/**
 * After the job script: hash the results container the manifest names and
 * write receipt.json + receipt.json.sig (node key, over the exact bytes) into
 * the job directory, owned by the job user when running as root.
 */
import type { PrivateKey } from "openpgp";
import { readSignature } from "openpgp";
import { refusal } from "../util/errors.ts";
import { sha256File, writeFileAtomic } from "../util/files.ts";
import { signDetached } from "../pgp/sign.ts";
import { PGP_CONFIG } from "../pgp/config.ts";
import { buildReceipt, rfc3339 } from "../job/receipt.ts";
import type { ReceiptResults } from "../job/receipt.ts";
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

/** The results file: a regular file (never a link the job planted), or null. */
async function hashResults(jobDir: string, path: string): Promise<ReceiptResults | null> {
  const full = `${jobDir}/${path}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(full);
  } catch {
    return null;
  }
  if (!info.isFile) return null;
  const sha256 = await sha256File(full);
  return { path, sha256, bytes: (await Deno.lstat(full)).size };
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
}

export async function writeReceipt(input: WriteReceiptInput): Promise<string> {
  const bytes = buildReceipt({
    job: input.manifest.job,
    nonce: input.manifest.nonce,
    user: input.account.name,
    slurm_job: input.slurmJob ?? null,
    signer: input.signer,
    results: await hashResults(input.jobDir, input.manifest.results),
    started_at: rfc3339(input.startedAt),
    ended_at: rfc3339(input.endedAt),
    exit_code: input.exitCode,
  });
  const binary = await signDetached(bytes, input.nodeKey, "node key");
  const armored = (await readSignature({ binarySignature: binary, config: PGP_CONFIG })).armor();
  const path = `${input.jobDir}/${RECEIPT_FILE}`;
  const files: [string, Uint8Array | string][] = [[path, bytes], [`${path}.sig`, armored]];
  const written: string[] = [];
  try {
    for (const [file, data] of files) {
      await writeFileAtomic(file, data, { mode: 0o644 });
      written.push(file);
      if (Deno.uid() === 0) await Deno.chown(file, input.account.uid, input.account.gid);
    }
  } catch (err) {
    for (const file of written) await Deno.remove(file).catch(() => {});
    throw err;
  }
  return path;
}
