import assert from "node:assert/strict";
import { normalizeArmor, unwrapRunScript, wrapRunScript } from "../../src/job/envelope.ts";
import { buildPayload, readManifest } from "../../src/job/manifest.ts";
import type { Manifest } from "../../src/job/manifest.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { fixture, seal } from "../node/_fixture.ts";

const MSG = "-----BEGIN PGP MESSAGE-----\n\nwV4DAAAA\n=abcd\n-----END PGP MESSAGE-----\n";

Deno.test("run.sh is exactly: shebang, empty line, heredoc line, armored message, EOF without newline", async () => {
  await using f = await fixture();
  const job = await seal(f, "job", { jobId: "j-1" });
  const text = await Deno.readTextFile(job.runScript);
  assert.match(
    text,
    /^#!\/bin\/bash\n\n\/usr\/bin\/decrypt_and_execute <<EOF\n-----BEGIN PGP MESSAGE-----\n[\s\S]+\n-----END PGP MESSAGE-----\nEOF$/,
  );
  assert.ok(!text.endsWith("\n"));
  assert.equal(job.manifest.job, "j-1");
  assert.equal(job.manifest.user, f.user);
  assert.match(job.manifest.nonce, /^[0-9a-f]{32}$/);
  const ttl = Date.parse(job.manifest.not_after) - Date.now();
  assert.ok(ttl > 6.9 * 86_400_000 && ttl <= 7 * 86_400_000, "default expiry is 7 days");
});

Deno.test("the reference variants unwrap to the same message; anything else does not", () => {
  const ref = wrapRunScript(MSG);
  assert.equal(ref, `#!/bin/bash\n\n/usr/bin/decrypt_and_execute <<EOF\n${MSG}EOF`);
  for (
    const variant of [ref, ref + "\n", ref.replace("\n\n", "\n"), ref.replaceAll("\n", "\r\n")]
  ) {
    assert.equal(normalizeArmor(unwrapRunScript(variant)), normalizeArmor(MSG));
  }
  const bad = [
    ref.replace("#!/bin/bash", "#!/bin/sh"),
    ref + "\nrm -rf ~",
    ref.replace("decrypt_and_execute <<EOF", "decrypt_and_execute <<EOF; touch x"),
    ref.replace("-----END PGP MESSAGE-----\n", ""),
    `echo pwned\n${ref}`,
  ];
  for (const text of bad) {
    assert.throws(() => unwrapRunScript(text), (e: unknown) => e instanceof SealbatchError);
  }
});

Deno.test("the payload stays a bash script with the manifest on line 2", () => {
  const m: Manifest = {
    v: 1,
    job: "j",
    nonce: "0".repeat(32),
    not_after: "2030-01-01T00:00:00Z",
    user: "alice",
    inputs: { "data/in.img": "a".repeat(64) },
  };
  const payload = buildPayload("#!/usr/bin/env bash\necho hi\n", m);
  assert.equal(payload.split("\n")[0], "#!/bin/bash");
  assert.equal(payload.split("\n")[2], "echo hi");
  assert.deepEqual(readManifest(payload), m);
  assert.equal(readManifest("#!/bin/bash\necho legacy\n"), undefined);
  assert.throws(() => buildPayload("#!/usr/bin/python3\nprint(1)\n", m));
  assert.throws(() => readManifest('#!/bin/bash\n# sealbatch-manifest: {"v":2}\n'));
  assert.throws(() =>
    readManifest(
      `#!/bin/bash\n# sealbatch-manifest: ${
        JSON.stringify({ ...m, inputs: { "../x": "a".repeat(64) } })
      }\n`,
    )
  );
  // Optional results: a relative path like the inputs; manifests without it stay valid.
  const withResults = { ...m, results: "output.results.img" };
  assert.deepEqual(readManifest(buildPayload("echo hi\n", withResults)), withResults);
  for (const results of ["/etc/passwd", "../out.img", 7]) {
    assert.throws(() => readManifest(buildPayload("echo\n", { ...m, results } as Manifest)));
  }
});
