/**
 * `data inspect`: header facts read without the key (pure TypeScript), and
 * with a key whether it opens the container.
 */
import { keyOpens } from "./cryptsetup.ts";
import { readLuksHeader } from "./header.ts";
import type { Keyslot } from "./header.ts";
import { Jobs } from "./jobs.ts";
import { keyMatchesCheck } from "./keycheck.ts";
import { loadKey } from "./seal.ts";

export interface InspectResult {
  path: string;
  version: 2;
  uuid: string;
  label: string;
  cipher: string;
  sectorSize: number;
  dataOffset: number;
  dataSize: number;
  fileSize: number;
  headerCopy: "primary" | "secondary";
  primaryProblem: string | undefined;
  keyslots: Keyslot[];
  tokens: string[];
  /** Present when a key was given. */
  keyOpens?: boolean;
  /** With a key that does not open it: the key check value says the key is right. */
  keySlotDamaged?: boolean;
}

export async function inspectContainer(path: string, keyPath?: string): Promise<InspectResult> {
  const h = await readLuksHeader(path);
  const result: InspectResult = {
    path,
    version: h.version,
    uuid: h.uuid,
    label: h.label,
    cipher: h.cipher,
    sectorSize: h.sectorSize,
    dataOffset: h.dataOffset,
    dataSize: h.dataSize,
    fileSize: h.fileSize,
    headerCopy: h.copy,
    primaryProblem: h.primaryProblem,
    keyslots: h.keyslots,
    tokens: h.tokens.map((t) => t.type),
  };
  if (keyPath !== undefined) {
    const key = await loadKey(keyPath);
    await using jobs = new Jobs();
    result.keyOpens = await keyOpens(jobs, path, key);
    if (!result.keyOpens) result.keySlotDamaged = keyMatchesCheck(h, key) === true;
  }
  return result;
}
