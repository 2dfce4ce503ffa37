/**
 * The SIF writer lays files out exactly as the SIF project's own test images,
 * and the reader parses all of them. Fixtures: ../shared/fixtures/sif/ (the
 * SIF project's test/images), made deterministic (zero times and IDs).
 */
import assert from "node:assert/strict";
import { ROOT } from "../_helpers/cli.ts";
import { encodeSif, type SifObjectInput } from "../../src/image/sif_writer.ts";
import {
  CryptoFormat,
  CryptoMessageType,
  DataType,
  FsType,
  GO_ZERO_TIME,
  PartType,
  primaryPartition,
  SifReader,
} from "../../src/image/sif.ts";

const FIXTURES = `${ROOT}/../shared/fixtures/sif`;
const missing = !(await Deno.stat(FIXTURES).then(() => true, () => false));
const why = missing ? ` (skipped: ${FIXTURES} is absent)` : "";

const fixture = (name: string) => Deno.readFile(`${FIXTURES}/${name}`);

function assertSameBytes(actual: Uint8Array, expected: Uint8Array) {
  assert.equal(actual.length, expected.length, "length");
  const first = actual.findIndex((b, i) => b !== expected[i]);
  assert.equal(first, -1, `first differing byte at offset ${first}`);
}

/** The objects of two-groups.sif, with payloads taken from the fixture itself. */
function twoGroupObjects(bytes: Uint8Array): SifObjectInput[] {
  return [
    {
      dataType: DataType.Partition,
      data: bytes.slice(32768, 32772),
      partition: { fsType: FsType.Raw, partType: PartType.System, arch: "386" },
    },
    {
      dataType: DataType.Partition,
      data: bytes.slice(36864, 40960),
      partition: { fsType: FsType.Squashfs, partType: PartType.PrimSys, arch: "386" },
    },
    {
      dataType: DataType.Partition,
      data: bytes.slice(40960),
      group: 2,
      partition: { fsType: FsType.Ext3, partType: PartType.System, arch: "amd64" },
    },
  ];
}

Deno.test({
  name: `writer reproduces empty.sif and one-object-crypt-message.sif byte for byte${why}`,
  ignore: missing,
  fn: async () => {
    assertSameBytes(encodeSif({ objects: [] }), await fixture("empty.sif"));
    assertSameBytes(
      encodeSif({
        objects: [{
          dataType: DataType.CryptoMessage,
          data: new Uint8Array([0xfe, 0xfe, 0xf0, 0xf0]),
          cryptoMessage: {
            format: CryptoFormat.OpenPGP,
            messageType: CryptoMessageType.ClearSignature,
          },
        }],
      }),
      await fixture("one-object-crypt-message.sif"),
    );
  },
});

Deno.test({
  name: `writer reproduces one-group.sif and two-groups.sif (aligned partitions, groups)${why}`,
  ignore: missing,
  fn: async () => {
    const two = await fixture("two-groups.sif");
    const objects = twoGroupObjects(two);
    assertSameBytes(encodeSif({ objects }), two);
    assertSameBytes(encodeSif({ objects: objects.slice(0, 2) }), await fixture("one-group.sif"));
  },
});

Deno.test({
  name: `reader parses all four fixtures${why}`,
  ignore: missing,
  fn: async () => {
    const expected: Record<string, { arch: string; objects: number; primary?: number }> = {
      "empty.sif": { arch: "unknown", objects: 0 },
      "one-object-crypt-message.sif": { arch: "unknown", objects: 1 },
      "one-group.sif": { arch: "386", objects: 2, primary: 2 },
      "two-groups.sif": { arch: "386", objects: 3, primary: 2 },
    };
    for (const [name, want] of Object.entries(expected)) {
      await using r = await SifReader.open(`${FIXTURES}/${name}`);
      const { header, descriptors } = r.image;
      assert.equal(header.arch, want.arch, name);
      assert.equal(header.createdAt, GO_ZERO_TIME, name);
      assert.equal(header.descriptorsTotal, 48, name);
      assert.equal(header.dataOffset, 32176, name);
      assert.equal(descriptors.length, want.objects, name);
      assert.equal(primaryPartition(r.image)?.id, want.primary, name);
    }
    await using r = await SifReader.open(`${FIXTURES}/two-groups.sif`);
    const [raw, squash, ext3] = r.image.descriptors;
    assert.deepEqual(raw?.partition, { fsType: 4, partType: 1, arch: "386" });
    assert.equal(raw?.sizeWithPadding, 596);
    assert.deepEqual(
      [...(await r.prefix(squash!, 4))],
      [0x68, 0x73, 0x71, 0x73], // "hsqs"
    );
    assert.equal(ext3?.groupId, 2);
    assert.equal(ext3?.size, 262144);
    await using m = await SifReader.open(`${FIXTURES}/one-object-crypt-message.sif`);
    assert.deepEqual(m.image.descriptors[0]?.cryptoMessage, { format: 1, messageType: 0x100 });
    assert.deepEqual([...await m.prefix(m.image.descriptors[0]!, 16)], [0xfe, 0xfe, 0xf0, 0xf0]);
  },
});
