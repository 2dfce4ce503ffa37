/**
 * Finding: a SIF whose partition is only marked "Gocryptfs squashfs" (a plain
 * squashfs relabelled) passed as encrypted. Now the partition must have the
 * layout an unprivileged apptainer build writes: a squashfs whose root holds
 * gocryptfs.conf (v2, a wrapped master key, scrypt parameters) and one file
 * in gocryptfs' encrypted file format. Forgeries are one error line, exit 3,
 * saying what was checked; the real layout (built here with mksquashfs) is
 * accepted and reported.
 */
import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import { encodeSif } from "../../src/image/sif_writer.ts";
import { DataType, FsType, PartType } from "../../src/image/sif.ts";
import { guardImageUpload } from "../../src/image/guard.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { gocryptfsConf, gocryptfsFile, gocryptfsPartition, makeTestImage } from "./_sif_images.ts";

async function squashfsOf(work: string, files: Record<string, string | Uint8Array>) {
  const dir = `${work}/tree-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir);
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${name}`, content);
    else await Deno.writeFile(`${dir}/${name}`, content);
  }
  const out = `${dir}.squashfs`;
  const r = await new Deno.Command("mksquashfs", { args: [dir, out, "-noappend", "-quiet"] })
    .output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return await Deno.readFile(out);
}

function sifWith(partition: Uint8Array): Uint8Array {
  return encodeSif({
    objects: [
      { dataType: DataType.Deffile, data: new TextEncoder().encode("Bootstrap: scratch\n") },
      {
        dataType: DataType.Partition,
        data: partition,
        partition: { fsType: FsType.GocryptfsSquashfs, partType: PartType.PrimSys, arch: "amd64" },
      },
    ],
  });
}

async function inspect(path: string) {
  return await runCli(["--json", "image", "inspect", path, "--require-encrypted"]);
}

Deno.test("a plain squashfs marked gocryptfs is refused as encrypted, for inspect and upload", async () => {
  await using dir = await tempDir();
  const sif = `${dir.path}/forged.sif`;
  await makeTestImage(sif, { kind: "gocryptfs-forged" });
  const r = await inspect(sif);
  assert.equal(r.code, 3, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(
    r.stderr,
    /marked "Gocryptfs squashfs" but is not a gocryptfs volume: no gocryptfs\.conf/,
  );
  assert.match(r.stderr, /hint: checked: a squashfs whose root holds gocryptfs\.conf/);
  await assert.rejects(guardImageUpload(sif, {}), (err) => {
    assert.ok(err instanceof SealbatchError && err.kind === "input", String(err));
    return true;
  });
});

Deno.test("forged layouts around a real-looking gocryptfs.conf are refused, each saying why", async () => {
  await using dir = await tempDir();
  const work = dir.path;
  const root = await squashfsOf(work, { "hello": "#!/bin/sh\necho hello\n" });
  const conf = gocryptfsConf();
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "the root squashfs in the clear beside a conf",
      await gocryptfsPartition(`${work}/a`, { conf, name: "root.img", content: root }),
      /"root\.img" (has a size \(\d+\) no gocryptfs file can have|does not start with a gocryptfs file header)/,
    ],
    [
      "a conf of version 1",
      await gocryptfsPartition(`${work}/b`, {
        conf: conf.replace('"Version": 2', '"Version": 1'),
        name: "root.img",
        content: await gocryptfsFile(root),
      }),
      /gocryptfs\.conf has version 1, not 2/,
    ],
    [
      "a conf without a wrapped master key",
      await gocryptfsPartition(`${work}/c`, {
        conf: conf.replace(/"EncryptedKey": "[^"]*"/, '"EncryptedKey": ""'),
        name: "root.img",
        content: await gocryptfsFile(root),
      }),
      /gocryptfs\.conf holds no wrapped master key/,
    ],
    [
      "more files beside the conf",
      await squashfsOf(work, {
        "gocryptfs.conf": conf,
        "root.img": await gocryptfsFile(root),
        "extra": "plain text",
      }),
      /its root holds 2 entries beside gocryptfs\.conf, not one encrypted file/,
    ],
  ];
  for (const [name, partition, why] of cases) {
    const sif = `${work}/${name.replace(/\W+/g, "-")}.sif`;
    await Deno.writeFile(sif, sifWith(partition));
    const r = await inspect(sif);
    assert.equal(r.code, 3, `${name}: ${r.stderr}`);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, why, name);
  }
});

Deno.test("the layout an unprivileged apptainer build writes is accepted and reported", async () => {
  await using dir = await tempDir();
  const sif = `${dir.path}/real.sif`;
  const { generateImageKeyPair } = await import("../../src/image/keys.ts");
  await makeTestImage(sif, {
    kind: "gocryptfs",
    publicPem: (await generateImageKeyPair(2048)).publicPem,
  });
  const r = await inspect(sif);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.encrypted, true);
  assert.equal(report.gocryptfs.file, "squashfs-root.img");
  assert.equal(report.gocryptfs.cipher, "AES-256-GCM");
  assert.match(report.gocryptfs.creator, /^gocryptfs v2/);
  assert.deepEqual(report.gocryptfs.featureFlags, ["HKDF", "GCMIV128", "PlaintextNames"]);
});

Deno.test("without unsquashfs a gocryptfs image is not called encrypted: exit 9, says why", async () => {
  await using dir = await tempDir();
  const sif = `${dir.path}/real.sif`;
  const { generateImageKeyPair } = await import("../../src/image/keys.ts");
  await makeTestImage(sif, {
    kind: "gocryptfs",
    publicPem: (await generateImageKeyPair(2048)).publicPem,
  });
  const r = await runCli(["image", "inspect", sif, "--require-encrypted"], {
    env: { PATH: dir.path },
  });
  assert.equal(r.code, 9, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /whether it is encrypted cannot be checked: unsquashfs is not installed/);
});
