import assert from "node:assert/strict";
import { sha256File } from "../../src/util/files.ts";
import { SITE_SKIP } from "../remote/_site.ts";
import { jobIdOf, makeProject, runIn } from "./_fixture.ts";

Deno.test({
  name: "an existing input container is used as is, and refused when its key does not open it",
  ignore: SITE_SKIP !== false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await makeProject();
    for (const out of ["data.img", "other.img"]) {
      const r = await runIn(p, [
        "data",
        "seal",
        "input",
        "--out",
        `${p.dir}/${out}`,
        "--headroom",
        "1",
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const spec = (key: string) =>
      Deno.writeTextFile(
        p.spec,
        Deno.readTextFileSync(p.spec).replace(
          /^input(_container)?: .*$/m,
          `input_container: { path: data.img, key: ${key} }`,
        ),
      );

    await spec("other.key");
    const wrong = await runIn(p, ["run", "job.yaml", "--site", "site.yaml", "--dry-run"]);
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, /cannot open ".*data\.img": the key does not open it/);
    assert.doesNotMatch(wrong.stderr, /^seal-input +done/m);

    await spec("data.key");
    const ok = await runIn(p, ["run", "job.yaml", "--site", "site.yaml", "--dry-run", "--new"]);
    assert.equal(ok.code, 0, ok.stderr);
    const job = jobIdOf(ok.stderr);
    assert.equal(
      await sha256File(`${p.dir}/.sealbatch/jobs/${job}/input.img`),
      await sha256File(`${p.dir}/data.img`),
    );
    const key = await Deno.stat(`${p.dir}/.sealbatch/jobs/${job}/keys/luks.key`);
    assert.equal(key.mode! & 0o777, 0o600);
  },
});
