import assert from "node:assert/strict";
import { HEADER_BYTES } from "../../src/luks/cryptsetup.ts";
import {
  MIN_FS_BYTES,
  minimumBytes,
  parseHeadroom,
  parseSize,
  planFs,
} from "../../src/luks/size.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { cli, names } from "./_fixture.ts";

const MiB = 1024 * 1024;

Deno.test("auto size is content plus headroom and never below what the content needs", () => {
  const stats = { contentBytes: 1000 * MiB, entries: 10 };
  const least = minimumBytes(stats);
  assert.ok(least >= 1000 * MiB);
  const byDefault = planFs(stats, "auto", undefined);
  assert.ok(byDefault.bytes >= least + 250 * MiB, "default headroom is 25% of 1000 MiB");
  const fixed = planFs(stats, "auto", parseHeadroom("0"));
  assert.ok(fixed.bytes >= least);
  const small = planFs({ contentBytes: 4096, entries: 1 }, "auto", undefined);
  assert.ok(small.bytes >= 64 * MiB, "at least 64 MiB of headroom");
  assert.equal(planFs(stats, 2048 * MiB, undefined).bytes, 2048 * MiB);
});

Deno.test("size and headroom flags are validated as usage errors", () => {
  for (const bad of ["-1", "1.5", "lots", "0"]) {
    assert.throws(
      () => parseSize(bad),
      (e: unknown) => e instanceof SealbatchError && e.kind === "usage",
    );
  }
  assert.throws(() => parseHeadroom("25 %"), SealbatchError);
  assert.deepEqual(parseHeadroom("25%"), { percent: 25 });
  assert.deepEqual(parseHeadroom("64"), { mib: 64 });
});

Deno.test("many small files fit with --size auto (enough inodes) and --headroom 0", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(runtime);
  for (let d = 0; d < 20; d++) {
    await Deno.mkdir(`${src}/d${d}`, { recursive: true });
    for (let f = 0; f < 250; f++) await Deno.writeTextFile(`${src}/d${d}/f${f}`, `${d}/${f}`);
  }
  const res = await cli(
    ["data", "seal", src, "--out", `${dir.path}/many.img`, "--headroom", "0"],
    runtime,
  );
  assert.equal(res.code, 0, res.stderr);
  const open = await cli(
    [
      "data",
      "open",
      `${dir.path}/many.img`,
      "--key",
      `${dir.path}/many.key`,
      "--out",
      `${dir.path}/out`,
    ],
    runtime,
  );
  assert.equal(open.code, 0, open.stderr);
  assert.match(open.stdout, /5000 files, 20 directories/);
});

Deno.test("an explicit --size below what the content needs is refused before any work", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime);
  await Deno.writeFile(`${src}/f`, new Uint8Array(20 * MiB));
  const res = await cli(
    ["data", "seal", src, "--out", `${dir.path}/x.img`, "--size", "16"],
    runtime,
  );
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, /cannot seal into 16 MiB: the content needs at least \d+ MiB/);
  assertOneLineError(res.stderr);
  assert.deepEqual(await names(dir.path), ["runtime", "src"]);
});

Deno.test("the smallest container is a 256 KiB file system behind a 512 KiB header, and it opens", async () => {
  assert.equal(planFs({ contentBytes: 0, entries: 0 }, "auto", { mib: 0 }).bytes, MIN_FS_BYTES);
  assert.equal(MIN_FS_BYTES, 256 * 1024);
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime);
  await Deno.writeTextFile(`${src}/note.txt`, "small\n");
  const res = await cli(
    ["data", "seal", src, "--out", `${dir.path}/s.img`, "--headroom", "0"],
    runtime,
  );
  assert.equal(res.code, 0, res.stderr);
  assert.equal((await Deno.stat(`${dir.path}/s.img`)).size, HEADER_BYTES + MIN_FS_BYTES);
  const open = await cli(
    ["data", "open", `${dir.path}/s.img`, "--key", `${dir.path}/s.key`, "--out", `${dir.path}/o`],
    runtime,
  );
  assert.equal(open.code, 0, open.stderr);
  assert.equal(await Deno.readTextFile(`${dir.path}/o/note.txt`), "small\n");
});
