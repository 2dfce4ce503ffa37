/** The run.sh envelope, the manifest line of the decrypted payload, and the node's receipt. */
import { normalizeArmor, unwrapRunScript } from "../../../src/job/envelope.ts";
import { readManifest } from "../../../src/job/manifest.ts";
import { MAX_RECEIPT_BYTES, parseReceipt } from "../../../src/job/receipt.ts";
import { type FuzzTarget, utf8 } from "../_harness.ts";
import { corpusBytes } from "../_targets.ts";

const dec = new TextDecoder();

/** JSON values that break naive readers: wrong types, prototypes, own toString. */
const JSON_TOKENS = [
  "null",
  "true",
  "[]",
  "{}",
  '""',
  "-1",
  "1e999",
  "0.5",
  '{"toString":1,"valueOf":1}',
  '"__proto__"',
  '"__proto__":{"v":1},',
  '"constructor":1,',
  '"v":2,',
  '"inputs":{"../x":"' + "a".repeat(64) + '"},',
  '"inputs":[],',
  '"results":null,',
  '"results":{"toString":1},',
  '"exit_code":256,',
  '"bytes":-1,',
  '"slurm_job":{},',
  '"nonce":1,',
  '"not_after":"9999-99-99T99:99:99Z",',
  "\\u0000",
  "\\ud800",
  ",",
  ":",
  '"',
];

export async function makeTarget(name: string): Promise<FuzzTarget> {
  switch (name) {
    case "run-script": {
      const runSh = await corpusBytes("run.sh");
      const crlf = utf8(dec.decode(runSh).replace(/\n/g, "\r\n") + "\r\n");
      const quoted = utf8(dec.decode(runSh).replace("<<EOF", "<< 'EOF'").replace(/\n\n/, "\n"));
      return {
        name,
        seeds: [runSh, crlf, quoted],
        tokens: [
          "EOF\n",
          "\nEOF",
          "#!/bin/bash\n",
          "/usr/bin/decrypt_and_execute <<EOF\n",
          "$(",
          "`",
        ],
        maxBytes: 256 * 1024,
        exitCodes: [3],
        run: (input) => Promise.resolve(normalizeArmor(unwrapRunScript(dec.decode(input)))),
      };
    }
    case "manifest":
      return {
        name,
        seeds: [await corpusBytes("payload.txt"), await corpusBytes("payload-nodes.txt")],
        tokens: JSON_TOKENS,
        maxBytes: 64 * 1024,
        exitCodes: [3],
        run: (input) => Promise.resolve(readManifest(dec.decode(input))),
      };
    default:
      return {
        name,
        seeds: [await corpusBytes("receipt.bin"), await corpusBytes("receipt-nodes.bin")],
        tokens: JSON_TOKENS,
        maxBytes: MAX_RECEIPT_BYTES + 1024,
        exitCodes: [4],
        run: (input) => Promise.resolve(parseReceipt(input)),
      };
  }
}
