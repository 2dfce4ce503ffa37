import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { cli, names, snapshot } from "../luks/_fixture.ts";

const SECRET_NAME = "patient-4711-anna-mustermann";
const SECRET_TEXT = "diagnosis: confidential";

Deno.test("node data open/close (rootless) round-trips results and never prints file names or contents", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(`${src}/${SECRET_NAME}`, { recursive: true });
  await Deno.mkdir(runtime, { mode: 0o700 });
  await Deno.writeTextFile(`${src}/${SECRET_NAME}/${SECRET_NAME}.txt`, SECRET_TEXT);
  const img = `${dir.path}/input.img`;
  const key = `${dir.path}/input.key`;
  const sealed = await cli(["data", "seal", src, "--out", img, "--headroom", "8"], runtime);
  assert.equal(sealed.code, 0, sealed.stderr);

  const logs: string[] = [];
  const node = async (args: string[]) => {
    const res = await cli(["node", "data", ...args], runtime);
    logs.push(res.stdout, res.stderr);
    return res;
  };
  const mp = `${dir.path}/mnt`;
  const opened = await node([
    "open",
    img,
    "--key-file",
    key,
    "--mount-point",
    mp,
    "--mode",
    "rootless",
  ]);
  assert.equal(opened.code, 0, opened.stderr);
  assert.ok((await Deno.lstat(mp)).isSymlink, "mount point leads into private storage");
  assert.equal(await Deno.readTextFile(`${mp}/${SECRET_NAME}/${SECRET_NAME}.txt`), SECRET_TEXT);
  await Deno.writeTextFile(`${mp}/${SECRET_NAME}-result.txt`, "result\n");

  // A second open on the same mount point is refused without naming anything inside.
  const again = await node(["open", img, "--key-file", key, "--mount-point", mp]);
  assert.equal(again.code, 3);

  // A special file in the outputs makes close fail without naming it; the data stays for a retry.
  const fifo = `${mp}/${SECRET_NAME}.fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const refusedClose = await node(["close", "--mount-point", mp]);
  assert.equal(refusedClose.code, 3, refusedClose.stderr);
  assert.match(refusedClose.stderr, /it holds a fifo/);
  await Deno.remove(fifo);

  const closed = await node(["close", "--mount-point", mp]);
  assert.equal(closed.code, 0, closed.stderr);
  assert.match(closed.stdout, /results: .*input\.results\.img/);
  await assert.rejects(Deno.lstat(mp), Deno.errors.NotFound, "the symlink is gone");
  assert.deepEqual(await names(runtime), [], "private storage wiped");

  const out = `${dir.path}/out`;
  const back = await cli([
    "data",
    "open",
    `${dir.path}/input.results.img`,
    "--key",
    key,
    "--out",
    out,
  ], runtime);
  assert.equal(back.code, 0, back.stderr);
  const tree = await snapshot(out);
  assert.ok(tree.has(`${SECRET_NAME}-result.txt`), "the client opens the results with its key");
  assert.ok(tree.has(`${SECRET_NAME}/${SECRET_NAME}.txt`));

  for (const text of logs) {
    assert.ok(!text.includes(SECRET_NAME), `a file name leaked: ${text}`);
    assert.ok(!text.includes(SECRET_TEXT), `content leaked: ${text}`);
  }
});

Deno.test("node data close --discard wipes the data and seals nothing", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const runtime = `${dir.path}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime, { mode: 0o700 });
  await Deno.writeTextFile(`${src}/a.txt`, "a");
  const img = `${dir.path}/in.img`;
  assert.equal(
    (await cli(["data", "seal", src, "--out", img, "--headroom", "8"], runtime)).code,
    0,
  );
  const mp = `${dir.path}/mnt`;
  await Deno.mkdir(mp);
  const opened = await cli(
    [
      "node",
      "data",
      "open",
      img,
      "--key-file",
      `${dir.path}/in.key`,
      "--mount-point",
      mp,
      "--mode",
      "rootless",
    ],
    runtime,
  );
  assert.equal(opened.code, 0, opened.stderr);
  const conflict = await cli([
    "node",
    "data",
    "close",
    "--mount-point",
    mp,
    "--discard",
    "--seal-to",
    "x.img",
  ], runtime);
  assert.equal(conflict.code, 2);
  const closed = await cli(["node", "data", "close", "--mount-point", mp, "--discard"], runtime);
  assert.equal(closed.code, 0, closed.stderr);
  assert.deepEqual(await names(runtime), []);
  assert.deepEqual(await names(mp), [], "the empty mount point directory is back");
  assert.deepEqual(await names(dir.path), ["in.img", "in.key", "mnt", "runtime", "src"]);
});
