import assert from "node:assert/strict";
import { sealJob } from "../../src/job/seal.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { sha256File } from "../../src/util/files.ts";
import { fixture } from "../node/_fixture.ts";

Deno.test("an input given with its SHA-256 is not hashed again; a malformed hash is refused", async () => {
  await using f = await fixture();
  await Deno.mkdir(`${f.dir}/job`);
  await Deno.writeTextFile(`${f.dir}/job/in.img`, "x");
  await Deno.writeTextFile(`${f.dir}/job/out.img`, "y");
  const told = "ab".repeat(32);
  const out = await sealJob({
    command: { text: "echo hi\n" },
    nodeKey: f.nodePub,
    signKey: f.userSec,
    outDir: `${f.dir}/job`,
    user: f.user,
    inputs: [{ file: `${f.dir}/job/in.img`, sha256: told }, `${f.dir}/job/out.img`],
  });
  // The manifest carries what the caller said (the node checks it against the file).
  assert.equal(out.manifest.inputs["in.img"], told);
  assert.equal(out.manifest.inputs["out.img"], await sha256File(`${f.dir}/job/out.img`));

  await assert.rejects(
    () =>
      sealJob({
        command: { text: "echo hi\n" },
        nodeKey: f.nodePub,
        signKey: f.userSec,
        outDir: `${f.dir}/job2`,
        user: f.user,
        inputs: [{ file: `${f.dir}/job/in.img`, sha256: "XYZ" }],
      }),
    (e: unknown) => e instanceof SealbatchError && e.kind === "input",
  );
});
