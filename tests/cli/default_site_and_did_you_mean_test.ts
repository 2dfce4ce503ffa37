/**
 * A default site (`site use NAME`, or SEALBATCH_SITE) stands in for --site;
 * `site list` shows the profiles and which is the default; a site name or a
 * YAML key that is almost right is answered with the right one.
 */
import assert from "node:assert/strict";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("site use makes the default; SEALBATCH_SITE wins; site list marks it", async () => {
  await using dir = await tempDir();
  const env = { XDG_CONFIG_HOME: dir.path };
  for (const name of ["alpha", "beta"]) {
    assert.equal((await runCli(["site", "init", name], { env })).code, 0);
  }
  const none = await runCli(["site", "check", "--offline"], { env });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /hint: or set a default: sealbatch site use NAME/);

  const use = await runCli(["site", "use", "alpha"], { env });
  assert.equal(use.code, 0, use.stderr);
  const check = await runCli(["site", "check", "--offline"], { env });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /alpha\.yaml is valid/);
  const list = await runCli(["site", "list"], { env });
  assert.match(list.stdout, /^\* alpha +\S+alpha\.yaml$/m);
  assert.match(list.stdout, /^ {2}beta +/m);

  const byEnv = await runCli(["site", "check", "--offline"], {
    env: { ...env, SEALBATCH_SITE: "beta" },
  });
  assert.match(byEnv.stdout, /beta\.yaml is valid/);
  // run takes the default too: it gets past "no site given" to the spec.
  const run = await runCli(["run", `${dir.path}/missing.yaml`], { env });
  assert.equal(run.code, 3);
  assert.doesNotMatch(run.stderr, /no site given/);
});

Deno.test("a site name that is almost right: did you mean", async () => {
  await using dir = await tempDir();
  const env = { XDG_CONFIG_HOME: dir.path };
  await runCli(["site", "init", "gwdg"], { env });
  const r = await runCli(["site", "check", "gwgd", "--offline"], { env });
  assert.equal(r.code, 3);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /no site "gwgd": .* does not exist; did you mean "gwdg"\?/);
  assert.match(r.stderr, /hint: known sites: gwdg/);
});

Deno.test("a YAML key that is almost right: did you mean", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/job.yaml`,
    'name: j\ninput: in\ncommand: "ls"\nouputs: results\n',
  );
  await assert.rejects(
    loadJobSpec(`${dir.path}/job.yaml`),
    /job\.yaml:4:1: unknown key "ouputs"; did you mean "outputs"\?/,
  );
});
