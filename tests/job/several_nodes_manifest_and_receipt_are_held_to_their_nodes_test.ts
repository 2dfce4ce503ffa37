/**
 * A job of several nodes: the manifest says how many nodes and whose results are kept (and
 * nothing of it without nodes); node I's results container has a name of its own; the receipt
 * names every node, and the client refuses a receipt that names another number of nodes than
 * the job was sealed for, or another container for a node than the one fetched.
 */
import assert from "node:assert/strict";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { readPrivateKeyFile } from "../../src/pgp/keys.ts";
import { resultsOfNode, validateManifest } from "../../src/job/manifest.ts";
import { parseReceipt, verifyReceipt } from "../../src/job/receipt.ts";
import { writeReceipt } from "../../src/node/write_receipt.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";

const NONCE = "cd".repeat(16);
const manifest = {
  v: 1,
  job: "mn-1",
  nonce: NONCE,
  not_after: "2030-01-01T00:00:00Z",
  user: "alice",
  inputs: {},
  results: "output.results.img",
};

Deno.test("the manifest of several nodes: 2+ nodes, tasks and outputs_from only with nodes", () => {
  const ok = validateManifest({ ...manifest, nodes: 3, tasks_per_node: 2, outputs_from: "all" });
  assert.equal(ok.nodes, 3);
  const bad = (extra: Record<string, unknown>, why: RegExp) =>
    assert.throws(
      () => validateManifest({ ...manifest, ...extra }),
      (e: unknown) => e instanceof SealbatchError && why.test(e.message),
    );
  bad({ nodes: 1 }, /nodes must be a whole number 2-64/);
  bad({ nodes: 65 }, /nodes must be a whole number 2-64/);
  bad({ nodes: "3" }, /nodes must be/);
  bad({ outputs_from: "all" }, /outputs_from without nodes/);
  bad({ nodes: 2, outputs_from: "some" }, /outputs_from must be "first" or "all"/);
  bad({ tasks_per_node: 2 }, /tasks_per_node without nodes/);
  bad({ nodes: 2, tasks_per_node: 0 }, /tasks_per_node must be/);
  assert.equal(resultsOfNode("output.results.img", 0), "output.results.img");
  assert.equal(resultsOfNode("output.results.img", 2), "output.results.node-2.img");
  assert.equal(resultsOfNode("out", 1), "out.node-1");
});

Deno.test("the receipt names every node; a receipt for another count or container is refused", async () => {
  await using dir = await tempDir();
  const node = await writeKeyPair({
    kind: "node",
    name: "node",
    email: "n@x.org",
    outDir: `${dir.path}/keys`,
  });
  const job = `${dir.path}/job`;
  await Deno.mkdir(job);
  for (const name of ["output.results.img", "output.results.node-1.img"]) {
    await Deno.writeFile(`${job}/${name}`, crypto.getRandomValues(new Uint8Array(1024)), {
      mode: 0o600,
    });
  }
  const path = await writeReceipt({
    jobDir: job,
    manifest: { ...manifest, v: 1, nodes: 3, outputs_from: "all" },
    account: { name: "alice", uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0, home: "/" },
    slurmJob: "42",
    signer: "A".repeat(40),
    nodeKey: await readPrivateKeyFile(node.secretKey),
    startedAt: new Date("2026-01-01T10:00:00Z"),
    endedAt: new Date("2026-01-01T10:01:00Z"),
    exitCode: 0,
    hosts: ["sec01", "sec02", "sec03"],
  });
  const bytes = await Deno.readFile(path);
  const receipt = parseReceipt(bytes);
  assert.deepEqual(receipt.nodes?.map((n) => n.host), ["sec01", "sec02", "sec03"]);
  // Node 2 sealed nothing (its container is missing): null, not a guess.
  assert.equal(receipt.nodes?.[2]?.results, null);
  const sha1 = receipt.nodes![1]!.results!.sha256;

  const verify = (expect: Record<string, unknown>) =>
    verifyReceipt({
      receipt: bytes,
      signature: Deno.readTextFileSync(`${path}.sig`),
      nodePublicKey: Deno.readTextFileSync(node.publicKey),
      expect: { job: "mn-1", nonce: NONCE, ...expect },
    });
  assert.equal((await verify({ nodes: 3, nodeResultsSha256: { 1: sha1 } })).nodes?.length, 3);
  const refused = async (expect: Record<string, unknown>, why: RegExp) =>
    await assert.rejects(
      () => verify(expect),
      (e: unknown) => e instanceof SealbatchError && e.kind === "refused" && why.test(e.message),
    );
  await refused({ nodes: 2 }, /names 3 node\(s\), but the job was sealed for 2/);
  await refused({}, /names 3 node\(s\), but the job was sealed for 1/);
  await refused(
    { nodes: 3, nodeResultsSha256: { 1: "0".repeat(64) } },
    /the results of node 1 do not match the receipt/,
  );
  await refused({ nodes: 3, nodeResultsSha256: { 2: sha1 } }, /the results of node 2 do not match/);

  // Strict shape: hosts are names, entries have only host and results.
  const text = new TextDecoder().decode(bytes);
  for (
    const [from, to, why] of [
      ['"host":"sec02"', '"host":"sec 02"', /nodes\[1\]\.host invalid/],
      ['"host":"sec02"', '"host":"sec02","extra":1', /nodes\[1\] has unknown fields/],
    ] as const
  ) {
    assert.throws(
      () => parseReceipt(new TextEncoder().encode(text.replace(from, to))),
      (e: unknown) => e instanceof SealbatchError && why.test(e.message),
    );
  }
});
