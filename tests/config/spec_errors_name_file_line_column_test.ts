import assert from "node:assert/strict";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { loadSiteProfile } from "../../src/config/site.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";

async function errorOf(
  load: (p: string) => Promise<unknown>,
  path: string,
): Promise<SealbatchError> {
  try {
    await load(path);
  } catch (err) {
    if (err instanceof SealbatchError) return err;
    throw err;
  }
  throw new Error("expected a validation error");
}

const GOOD_JOB = `name: fft
input: data
command: bart fft -u -i 3 {input}/shepp_logan {output}/output_fft
resources:
  time: "00:10:00"
  mem: 4G
outputs: results
`;

const GOOD_SITE = `name: test
ssh:
  login: { host: 127.0.0.1, port: 2222 }
  user: alice
remote:
  base_dir: /scratch/alice
vault:
  addr: https://vault.example.org:8200
node:
  public_key: node.pub.asc
`;

Deno.test("a valid job spec resolves paths against its own directory", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/job.yaml`, GOOD_JOB);
  const spec = await loadJobSpec(`${dir.path}/job.yaml`);
  assert.equal(spec.name, "fft");
  assert.deepEqual(spec.input, { kind: "dir", path: `${dir.path}/data` });
  assert.equal(spec.outputs, `${dir.path}/results`);
  assert.deepEqual(spec.resources, { time: "00:10:00", mem: "4G" });
  assert.equal(spec.image.kind, "none");
});

const JOB_CASES: [string, string, RegExp][] = [
  [
    "unknown placeholder",
    GOOD_JOB.replace("{output}", "{outptu}"),
    /job\.yaml:3:\d+: unknown placeholder "\{outptu\}"/,
  ],
  ["typo in a key", GOOD_JOB.replace("outputs:", "ouputs:"), /job\.yaml:7:1: unknown key "ouputs"/],
  ["bad memory", GOOD_JOB.replace("4G", "lots"), /job\.yaml:6:8: resources\.mem: expected memory/],
  ["syntax error", GOOD_JOB + "  bad: [unclosed\n", /job\.yaml:\d+:\d+: invalid YAML/],
  [
    "both inputs",
    GOOD_JOB + "input_container: { path: a.img, key: a.key }\n",
    /job\.yaml:2:\d+: give one of input \(a directory\) or input_container, not both/,
  ],
  ["bad name", GOOD_JOB.replace("name: fft", "name: ../etc"), /job\.yaml:1:7: invalid job name/],
  [
    "{image} without image",
    GOOD_JOB.replace("{input}/shepp", "{image} {input}/shepp"),
    /job\.yaml:3:\d+: the command uses \{image\}/,
  ],
];

for (const [what, text, expected] of JOB_CASES) {
  Deno.test(`job spec error names file:line:column: ${what}`, async () => {
    await using dir = await tempDir();
    await Deno.writeTextFile(`${dir.path}/job.yaml`, text);
    const err = await errorOf(loadJobSpec, `${dir.path}/job.yaml`);
    assert.equal(err.kind, "input");
    assert.match(err.message, expected);
  });
}

Deno.test("a valid site profile gets safe defaults", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/site.yaml`, GOOD_SITE);
  const site = await loadSiteProfile(`${dir.path}/site.yaml`);
  assert.equal(site.slurm.partition, "secure");
  assert.equal(site.slurm.exclusive, true);
  assert.equal(site.vault.keyMode, "job-scoped");
  assert.equal(site.vault.wrapTtlMs, 72 * 3600 * 1000);
  assert.deepEqual(site.ssh.transfer, site.ssh.login);
});

const SITE_CASES: [string, string, RegExp][] = [
  [
    "plain http to a remote Vault",
    GOOD_SITE.replace("https://vault", "http://vault"),
    /site\.yaml:8:9: Vault must be reached over https/,
  ],
  [
    "relative remote dir",
    GOOD_SITE.replace("/scratch/alice", "scratch"),
    /site\.yaml:6:13: expected an absolute remote path/,
  ],
  [
    "reference mode without policy",
    GOOD_SITE.replace("  addr:", "  key_mode: reference\n  addr:"),
    /site\.yaml:\d+:\d+: missing vault\.reference_policy/,
  ],
  [
    "bad fingerprint",
    GOOD_SITE.replace("  user: alice", "  user: alice\n  host_key_fingerprint: md5:aa"),
    /site\.yaml:5:\d+: expected an OpenSSH fingerprint/,
  ],
  ["port out of range", GOOD_SITE.replace("2222", "70000"), /ssh\.login\.port: expected a port/],
];

for (const [what, text, expected] of SITE_CASES) {
  Deno.test(`site profile error names file:line:column: ${what}`, async () => {
    await using dir = await tempDir();
    await Deno.writeTextFile(`${dir.path}/site.yaml`, text);
    const err = await errorOf(loadSiteProfile, `${dir.path}/site.yaml`);
    assert.equal(err.kind, "input");
    assert.match(err.message, expected);
  });
}
