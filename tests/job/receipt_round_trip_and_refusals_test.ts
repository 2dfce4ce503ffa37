import assert from "node:assert/strict";
import { readSignature } from "openpgp";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { readPrivateKeyFile } from "../../src/pgp/keys.ts";
import { signDetached } from "../../src/pgp/sign.ts";
import { buildReceipt, MAX_RECEIPT_BYTES, verifyReceipt } from "../../src/job/receipt.ts";
import type { VerifyReceiptInput } from "../../src/job/receipt.ts";
import { writeReceipt } from "../../src/node/write_receipt.ts";
import { sha256File } from "../../src/util/files.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";

const NONCE = "ab".repeat(16);
const SIGNER = "A".repeat(40);

async function setup(dir: string) {
  const keys = `${dir}/keys`;
  const node = await writeKeyPair({ kind: "node", name: "node", email: "n@x.org", outDir: keys });
  const other = await writeKeyPair({ kind: "node", name: "other", email: "o@x.org", outDir: keys });
  const job = `${dir}/job`;
  await Deno.mkdir(job);
  // 0600 as the node side leaves it (the results of a file others can write get no hash).
  await Deno.writeFile(`${job}/output.results.img`, crypto.getRandomValues(new Uint8Array(4096)), {
    mode: 0o600,
  });
  const nodeKey = await readPrivateKeyFile(node.secretKey);
  const account = { name: "alice", uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0, home: "/" };
  const write = (results: string, exitCode = 0) =>
    writeReceipt({
      jobDir: job,
      manifest: {
        v: 1,
        job: "bart-1",
        nonce: NONCE,
        not_after: "2030-01-01T00:00:00Z",
        user: "alice",
        inputs: {},
        results,
      },
      account,
      slurmJob: "42",
      signer: SIGNER,
      nodeKey,
      startedAt: new Date("2026-01-01T10:00:00Z"),
      endedAt: new Date("2026-01-01T10:01:00Z"),
      exitCode,
    });
  return {
    job,
    nodePub: await Deno.readTextFile(node.publicKey),
    otherSec: other.secretKey,
    write,
  };
}

async function armoredSignature(bytes: Uint8Array, secretKeyFile: string): Promise<string> {
  const binary = await signDetached(bytes, await readPrivateKeyFile(secretKeyFile), "key");
  return (await readSignature({ binarySignature: binary })).armor();
}

async function refused(input: VerifyReceiptInput, why: RegExp): Promise<void> {
  await assert.rejects(
    verifyReceipt(input),
    (e: unknown) => e instanceof SealbatchError && e.kind === "refused" && why.test(e.message),
  );
}

Deno.test("a receipt written on the node verifies with the node's public key, and nothing else does", async () => {
  await using dir = await tempDir();
  const s = await setup(dir.path);
  const path = await s.write("output.results.img");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
  const receipt = await Deno.readFile(path);
  const signature = await Deno.readTextFile(`${path}.sig`);
  assert.match(signature, /^-----BEGIN PGP SIGNATURE-----/);
  const sha = await sha256File(`${s.job}/output.results.img`);
  const good: VerifyReceiptInput = {
    receipt,
    signature,
    nodePublicKey: s.nodePub,
    expect: { job: "bart-1", nonce: NONCE, resultsSha256: sha },
  };
  const r = await verifyReceipt(good);
  assert.deepEqual(r.results, { path: "output.results.img", sha256: sha, bytes: 4096 });
  assert.equal(r.slurm_job, "42");
  assert.equal(r.exit_code, 0);
  assert.equal(r.started_at, "2026-01-01T10:00:00Z");

  // One flipped byte anywhere in the receipt.
  for (const at of [0, 20, receipt.length - 2]) {
    const tampered = receipt.slice();
    tampered[at] = tampered[at]! ^ 0x01;
    await refused({ ...good, receipt: tampered }, /bad signature/);
  }
  // Signed by another key (the same bytes).
  await refused(
    { ...good, signature: await armoredSignature(receipt, s.otherSec) },
    /receipt: bad signature: signed by key/,
  );
  await refused({ ...good, signature: "garbage" }, /receipt/);
  await refused({ ...good, expect: { ...good.expect, nonce: "cd".repeat(16) } }, /another nonce/);
  await refused({ ...good, expect: { ...good.expect, job: "bart-2" } }, /for job "bart-1", not/);
  await refused(
    { ...good, expect: { ...good.expect, resultsSha256: "0".repeat(64) } },
    /does not match the receipt/,
  );
});

Deno.test("a missing results file gives results null; validly signed garbage or huge receipts are refused", async () => {
  await using dir = await tempDir();
  const s = await setup(dir.path);
  const path = await s.write("missing.img", 3);
  const receipt = await Deno.readFile(path);
  const signature = await Deno.readTextFile(`${path}.sig`);
  const expect = { job: "bart-1", nonce: NONCE };
  const r = await verifyReceipt({ receipt, signature, nodePublicKey: s.nodePub, expect });
  assert.equal(r.results, null);
  assert.equal(r.exit_code, 3);
  await refused(
    {
      receipt,
      signature,
      nodePublicKey: s.nodePub,
      expect: { ...expect, resultsSha256: "0".repeat(64) },
    },
    /says the job left no results/,
  );

  // Signed by the node key, but not a receipt: each is refused by the parser.
  const nodeSec = `${dir.path}/keys/node.sec.asc`;
  const fields = JSON.parse(new TextDecoder().decode(receipt));
  const bad: [string, RegExp][] = [
    ["not json at all", /not UTF-8 JSON/],
    ["[1,2]", /not an object/],
    [JSON.stringify({ ...fields, extra: 1 }), /unknown field "extra"/],
    [JSON.stringify({ ...fields, v: 2 }), /not a version 1/],
    [JSON.stringify({ ...fields, exit_code: "0" }), /exit_code/],
    [
      JSON.stringify({ ...fields, results: { path: "../x", sha256: "0".repeat(64), bytes: 1 } }),
      /results.path/,
    ],
    [JSON.stringify({ ...fields, started_at: "yesterday" }), /started_at/],
  ];
  for (const [text, why] of bad) {
    const bytes = new TextEncoder().encode(text);
    await refused({
      receipt: bytes,
      signature: await armoredSignature(bytes, nodeSec),
      nodePublicKey: s.nodePub,
      expect,
    }, why);
  }
  // Too large: refused before any parsing or signature work.
  const huge = new TextEncoder().encode(`{"pad":"${"x".repeat(MAX_RECEIPT_BYTES)}"}`);
  await refused({ receipt: huge, signature, nodePublicKey: s.nodePub, expect }, /larger than/);
  // buildReceipt writes fields in a fixed order, one line.
  const { v: _v, kind: _kind, ...rest } = fields;
  const text = new TextDecoder().decode(buildReceipt(rest));
  assert.match(text, /^\{"v":1,"kind":"sealbatch-receipt","job":"bart-1","nonce":/);
  assert.ok(text.endsWith("}\n") && text.split("\n").length === 2);
});
