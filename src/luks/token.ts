/**
 * Adds a token to the LUKS2 metadata of a container sealbatch has just made,
 * as `cryptsetup token import` would, without starting cryptsetup once more
 * per container (a cohort seals hundreds). Both header copies get the same
 * JSON with the token and the next sequence number, and each its checksum
 * anew (format 1.1.4: the hash over the whole header with the checksum field
 * zeroed). Only for a fresh container whose header readLuksHeader has just
 * checked; cryptsetup reads the result (tested).
 */
import { createHash } from "node:crypto";
import { SealbatchError } from "../util/errors.ts";
import { type LuksHeader, readAt } from "./header.ts";

const BINARY_HEADER = 4096;
const CSUM_AT = 448;
const CSUM_FIELD = 64;

export async function addToken(
  path: string,
  header: LuksHeader,
  token: Record<string, unknown>,
): Promise<void> {
  const size = header.headerSize;
  const file = await Deno.open(path, { read: true, write: true });
  try {
    for (const offset of [0, size]) {
      const buf = await readAt(file, offset, size);
      if (buf.length < size) {
        throw new SealbatchError("tool", "cannot add the key check: short header");
      }
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const area = buf.subarray(BINARY_HEADER);
      const json = JSON.parse(new TextDecoder().decode(area.subarray(0, area.indexOf(0))));
      const tokens = json.tokens as Record<string, unknown>;
      let id = 0;
      while (String(id) in tokens) id++;
      tokens[String(id)] = token;
      const text = new TextEncoder().encode(JSON.stringify(json));
      if (text.length >= area.length) {
        throw new SealbatchError("tool", "cannot add the key check: the metadata area is full");
      }
      area.fill(0);
      area.set(text);
      view.setBigUint64(16, BigInt(header.seqid + 1));
      buf.fill(0, CSUM_AT, CSUM_AT + CSUM_FIELD);
      const alg = new TextDecoder().decode(buf.subarray(72, 104)).replace(/\0.*$/s, "");
      buf.set(createHash(alg).update(buf).digest(), CSUM_AT);
      await file.seek(offset, Deno.SeekMode.Start);
      for (let put = 0; put < size;) put += await file.write(buf.subarray(put));
    }
  } finally {
    file.close();
  }
}
