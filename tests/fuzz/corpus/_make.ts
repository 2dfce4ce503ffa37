/**
 * Writes the fuzz seed corpus in this directory: valid keys, messages,
 * signatures, scripts, manifests, receipts and image keys that the fuzz
 * targets mutate. Keys are random, so the files are made once and committed
 * (a regenerated corpus would make the seeded cases differ from run to run).
 *
 *   deno run -P=test tests/fuzz/corpus/_make.ts
 *
 * The receipt is receipt.bin, not .json: deno fmt must not reformat the signed bytes.
 */
import { armor, createMessage, enums, generateKey, readPrivateKey, sign } from "openpgp";
import { generateKeyPair, parsePublicKey } from "../../../src/pgp/keys.ts";
import { encryptTo } from "../../../src/pgp/encrypt.ts";
import { signDetached } from "../../../src/pgp/sign.ts";
import { PGP_CONFIG } from "../../../src/pgp/config.ts";
import { wrapRunScript } from "../../../src/job/envelope.ts";
import { buildPayload, readManifest } from "../../../src/job/manifest.ts";
import { buildReceipt } from "../../../src/job/receipt.ts";
import { generateImageKeyPair, importPublicKeyPem } from "../../../src/image/keys.ts";
import { wrapImageKey } from "../../../src/image/crypto_message.ts";

const dir = new URL(".", import.meta.url).pathname;
const write = (name: string, data: string | Uint8Array) =>
  typeof data === "string"
    ? Deno.writeTextFile(`${dir}/${name}`, data)
    : Deno.writeFile(`${dir}/${name}`, data);

const node = await generateKeyPair({ name: "Fuzz Node", email: "node@fuzz.invalid" });
const user = await generateKeyPair({ name: "Fuzz User", email: "user@fuzz.invalid" });
await write("node.sec.asc", node.privateArmored);
await write("node.pub.asc", node.publicArmored);
await write("user.sec.asc", user.privateArmored);
await write("user.pub.asc", user.publicArmored);
// A key protected with Argon2 S2K (1 MiB), as newer OpenPGP tools make them, passphrase "fuzz".
const argon2 = await generateKey({
  type: "ecc",
  curve: "curve25519Legacy",
  userIDs: [{ name: "Fuzz Argon2", email: "argon2@fuzz.invalid" }],
  passphrase: "fuzz",
  format: "armored",
  config: {
    s2kType: enums.s2k.argon2,
    aeadProtect: true,
    s2kArgon2Params: { passes: 1, parallelism: 1, memoryExponent: 10 },
  },
});
await write("argon2.sec.asc", argon2.privateKey);

const payload = buildPayload("#!/bin/bash\nbart fft -u -i 3 in/shepp_logan out/output_fft\n", {
  v: 1,
  job: "fuzz-job-1",
  nonce: "0123456789abcdef0123456789abcdef",
  not_after: "2026-12-31T23:59:59Z",
  user: "alice",
  inputs: { "input.img": "a".repeat(64), "image.sif": "b".repeat(64) },
  results: "output.results.img",
});
await write("payload.txt", payload);
// A job of several nodes: its manifest fields and the receipt's node list.
const nodesPayload = buildPayload("#!/bin/bash\nsrun hostname\n", {
  ...readManifest(payload)!,
  nodes: 3,
  tasks_per_node: 2,
  outputs_from: "all",
});
await write("payload-nodes.txt", nodesPayload);
const message = await encryptTo(
  new TextEncoder().encode(payload),
  await parsePublicKey(node.publicArmored, "node key"),
  "node key",
);
await write("message.asc", message);
const runSh = wrapRunScript(message);
await write("run.sh", runSh);
const userKey = await readPrivateKey({ armoredKey: user.privateArmored });
const sig = await signDetached(new TextEncoder().encode(runSh), userKey, "user key");
await write("run.sh.sig", sig);
await write("run.sh.sig.asc", armor(enums.armor.signature, sig));

const receipt = buildReceipt({
  job: "fuzz-job-1",
  nonce: "0123456789abcdef0123456789abcdef",
  user: "alice",
  slurm_job: "4242",
  signer: user.fingerprint.toUpperCase(),
  results: { path: "output.results.img", sha256: "c".repeat(64), bytes: 786432 },
  started_at: "2026-12-04T10:00:00Z",
  ended_at: "2026-12-04T10:05:00Z",
  exit_code: 0,
});
await write("receipt.bin", receipt);
const nodesResults = (i: number) => ({
  path: `output.results.node-${i}.img`,
  sha256: "d".repeat(64),
  bytes: 786432,
});
await write(
  "receipt-nodes.bin",
  buildReceipt({
    ...JSON.parse(new TextDecoder().decode(receipt)),
    nodes: [
      {
        host: "secure01",
        results: { path: "output.results.img", sha256: "c".repeat(64), bytes: 786432 },
      },
      { host: "secure02", results: nodesResults(1) },
      { host: "secure03", results: null },
    ],
  }),
);
const nodeKey = await readPrivateKey({ armoredKey: node.privateArmored });
await write(
  "receipt.sig.asc",
  await sign({
    message: await createMessage({ binary: receipt }),
    signingKeys: nodeKey,
    detached: true,
    format: "armored",
    config: PGP_CONFIG,
  }),
);

const image = await generateImageKeyPair(2048);
await write("rsa_pri.pem", image.privatePem);
await write("rsa_pub.pem", image.publicPem);
await write(
  "crypto_message.pem",
  await wrapImageKey(await importPublicKeyPem(image.publicPem, "key"), new Uint8Array(64).fill(7)),
);
