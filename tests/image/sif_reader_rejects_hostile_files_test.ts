/**
 * Hostile SIF files: each is one clear `sealbatch: error:` line and exit 3
 * (input), never a stack trace, hang or huge allocation.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { encodeSif } from "../../src/image/sif_writer.ts";
import {
  CryptoFormat,
  CryptoMessageType,
  DataType,
  DESCRIPTOR_SIZE,
  FsType,
  PartType,
} from "../../src/image/sif.ts";
import { generateImageKeyPair } from "../../src/image/keys.ts";
import { makeGocryptfsPartition } from "./_sif_images.ts";

/** A structurally real gocryptfs partition, so that the crypto message is what is tested. */
const GOCRYPTFS = await makeGocryptfsPartition();
const STUB = new Uint8Array(4096);
STUB.set([0x68, 0x73, 0x71, 0x73]);

function image(
  message: Uint8Array,
  fsType: number = FsType.GocryptfsSquashfs,
  partition = GOCRYPTFS,
): Uint8Array {
  return encodeSif({
    objects: [
      { dataType: DataType.Deffile, data: new TextEncoder().encode("Bootstrap: scratch\n") },
      {
        dataType: DataType.Partition,
        data: partition,
        partition: { fsType, partType: PartType.PrimSys, arch: "amd64" },
      },
      {
        dataType: DataType.CryptoMessage,
        data: message,
        linkedId: 2,
        cryptoMessage: { format: CryptoFormat.PEM, messageType: CryptoMessageType.RSAOAEP },
      },
    ],
  });
}

const text = (s: string) => new TextEncoder().encode(s);
const base = () => image(text("-----BEGIN MESSAGE-----\nBAA=\n-----END MESSAGE-----\n"));
/** Byte offset of field `at` in descriptor slot `slot` (1-based). */
const desc = (slot: number, at: number) => 4096 + (slot - 1) * DESCRIPTOR_SIZE + at;

function patch(bytes: Uint8Array, edit: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer), copy);
  return copy;
}

const cases: { name: string; bytes: () => Uint8Array; error: RegExp }[] = [
  { name: "empty file", bytes: () => new Uint8Array(), error: /truncated header/ },
  { name: "truncated header", bytes: () => base().slice(0, 100), error: /truncated header/ },
  {
    name: "wrong magic",
    bytes: () => patch(base(), (_, b) => b.set(text("ELF"), 32)),
    error: /invalid magic/,
  },
  {
    name: "wrong version",
    bytes: () => patch(base(), (_, b) => b.set(text("02"), 42)),
    error: /unsupported SIF version "02"/,
  },
  {
    name: "descriptor count of 2^40",
    bytes: () => patch(base(), (v) => v.setBigInt64(88, 1n << 40n, true)),
    error: /descriptor count 1099511627776 is outside/,
  },
  {
    name: "descriptor table beyond the file",
    bytes: () => patch(base(), (v) => v.setBigInt64(96, 1n << 30n, true)),
    error: /descriptor table .* lies outside the file/,
  },
  {
    name: "object offset beyond the file",
    bytes: () => patch(base(), (v) => v.setBigInt64(desc(2, 17), 1n << 32n, true)),
    error: /object 2 \(FS\) extends beyond the end of the file/,
  },
  {
    name: "partition size larger than the file",
    bytes: () => patch(base(), (v) => v.setBigInt64(desc(2, 25), 1n << 40n, true)),
    error: /object 2 \(FS\) extends beyond the end of the file/,
  },
  {
    name: "negative object size",
    bytes: () => patch(base(), (v) => v.setBigInt64(desc(3, 25), -5n, true)),
    error: /negative offset or size/,
  },
  {
    name: "int64 beyond 2^53",
    bytes: () => patch(base(), (v) => v.setBigInt64(desc(2, 25), 1n << 60n, true)),
    error: /size \d+ is out of range/,
  },
  {
    name: "overlapping objects",
    bytes: () =>
      patch(base(), (v) => v.setBigInt64(desc(3, 17), v.getBigInt64(desc(2, 17), true), true)),
    error: /objects 2 and 3 overlap/,
  },
  {
    name: "object inside the descriptor table",
    bytes: () => patch(base(), (v) => v.setBigInt64(desc(1, 17), 4096n, true)),
    error: /inside the header or descriptor table/,
  },
  {
    name: "duplicate object IDs",
    bytes: () => patch(base(), (v) => v.setUint32(desc(2, 5), 1, true)),
    error: /duplicate or zero object ID/,
  },
  {
    name: "gocryptfs mark on a squashfs magic and nothing else",
    bytes: () => image(text("x"), FsType.GocryptfsSquashfs, STUB),
    error: /marked "Gocryptfs squashfs" but is not a gocryptfs volume: not a readable squashfs/,
  },
  {
    name: "Encrypted squashfs without a LUKS header",
    bytes: () => image(text("x"), FsType.EncryptedSquashfs),
    error: /marked "Encrypted squashfs" but holds no LUKS header/,
  },
];

Deno.test("hostile SIF headers and descriptors: one error line, exit 3", async (t) => {
  await using dir = await tempDir();
  for (const c of cases) {
    await t.step(c.name, async () => {
      const path = `${dir.path}/${c.name.replace(/\W+/g, "-")}.sif`;
      await Deno.writeFile(path, c.bytes());
      const r = await runCli(["image", "inspect", path]);
      assertOneLineError(r.stderr);
      assert.match(r.stderr, c.error);
      assert.equal(r.code, 3, r.stderr);
    });
  }
});

Deno.test("a crypto message that is not valid PEM/DER: one error line, exit 3", async (t) => {
  await using dir = await tempDir();
  const key = `${dir.path}/rsa_pri.pem`;
  await Deno.writeTextFile(key, (await generateImageKeyPair(2048)).privatePem, { mode: 0o600 });
  const messages: { name: string; bytes: Uint8Array; error: RegExp }[] = [
    { name: "binary garbage", bytes: new Uint8Array([0xff, 0xfe, 0, 1]), error: /not PEM text/ },
    { name: "no PEM block", bytes: text("hello"), error: /no PEM block found/ },
    {
      name: "bad base64",
      bytes: text("-----BEGIN MESSAGE-----\n%%%%\n-----END MESSAGE-----\n"),
      error: /not valid base64/,
    },
    {
      name: "DER length beyond the data",
      bytes: text("-----BEGIN MESSAGE-----\nBIIQAAAA\n-----END MESSAGE-----\n"),
      error: /claims 4096 bytes but only 2 remain/,
    },
    {
      name: "not an OCTET STRING",
      bytes: text("-----BEGIN MESSAGE-----\nMAA=\n-----END MESSAGE-----\n"),
      error: /expected DER tag 0x4, found 0x30/,
    },
    {
      name: "wrong PEM type",
      bytes: text("-----BEGIN CERTIFICATE-----\nBAA=\n-----END CERTIFICATE-----\n"),
      error: /expected "MESSAGE"/,
    },
    {
      name: "huge message",
      bytes: new Uint8Array(200 * 1024),
      error: /more than the 65536 allowed/,
    },
  ];
  for (const m of messages) {
    await t.step(m.name, async () => {
      const path = `${dir.path}/msg.sif`;
      await Deno.writeFile(path, image(m.bytes));
      const r = await runCli(["image", "inspect", path, "--key", key]);
      assertOneLineError(r.stderr);
      assert.match(r.stderr, m.error);
      assert.equal(r.code, 3, r.stderr);
    });
  }
});

Deno.test("a FIFO or a directory given as image is refused without blocking", async () => {
  await using dir = await tempDir();
  const fifo = `${dir.path}/pipe.sif`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success);
  for (const path of [fifo, dir.path]) {
    const r = await runCli(["image", "inspect", path]);
    assert.equal(r.code, 3, r.stderr);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, /not a regular file/);
  }
});
