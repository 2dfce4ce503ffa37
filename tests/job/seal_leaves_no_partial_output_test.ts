import assert from "node:assert/strict";
import { sealJob } from "../../src/job/seal.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { assertOneLineError, runCli } from "../_helpers/cli.ts";
import { fixture, seal } from "../node/_fixture.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("a seal that fails (bad node key, missing input) creates no output directory or file", async () => {
  await using f = await fixture();
  await Deno.writeTextFile(`${f.dir}/garbage.asc`, "-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n");
  await assert.rejects(
    () => seal(f, "bad-key", { nodeKey: `${f.dir}/garbage.asc` }),
    (e: unknown) => e instanceof SealbatchError && e.kind === "input",
  );
  assert.equal(await exists(`${f.dir}/bad-key`), false);
  await assert.rejects(
    () => seal(f, "bad-input", { inputs: [`${f.dir}/nope.img`] }),
    (e: unknown) => e instanceof SealbatchError && e.kind === "input",
  );
  assert.equal(await exists(`${f.dir}/bad-input`), false);
});

Deno.test("job seal refuses to overwrite an existing run.sh and leaves it as it was", async () => {
  await using f = await fixture();
  await Deno.mkdir(`${f.dir}/job`);
  await Deno.writeTextFile(`${f.dir}/job/run.sh`, "old");
  await Deno.writeTextFile(`${f.dir}/c.sh`, "echo hi\n");
  const res = await runCli([
    "job",
    "seal",
    "--command",
    `${f.dir}/c.sh`,
    "--node-key",
    f.nodePub,
    "--sign-key",
    f.userSec,
    "--out",
    `${f.dir}/job`,
  ]);
  assert.equal(res.code, 3);
  assertOneLineError(res.stderr);
  assert.equal(await Deno.readTextFile(`${f.dir}/job/run.sh`), "old");
  assert.equal(await exists(`${f.dir}/job/run.sh.sig`), false);
  assert.deepEqual([...Deno.readDirSync(`${f.dir}/job`)].map((e) => e.name), ["run.sh"]);
});

Deno.test("inputs are named relative to the job directory, or by base name outside it", async () => {
  await using f = await fixture();
  await Deno.mkdir(`${f.dir}/job/data`, { recursive: true });
  await Deno.writeTextFile(`${f.dir}/job/data/in.img`, "x");
  await Deno.writeTextFile(`${f.dir}/image.sif`, "y");
  const out = await sealJob({
    command: { text: "echo hi\n" },
    nodeKey: f.nodePub,
    signKey: f.userSec,
    outDir: `${f.dir}/job`,
    user: f.user,
    inputs: [`${f.dir}/job/data/in.img`, `${f.dir}/image.sif`],
  });
  assert.deepEqual(Object.keys(out.manifest.inputs).sort(), ["data/in.img", "image.sif"]);
  assert.equal(
    out.manifest.inputs["image.sif"],
    "a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa",
  );
});
