/**
 * Every bad value in a job spec or site profile is reported at its own place
 * in the file, `FILE:LINE:COL: ...`, like syntax errors and unknown keys: the
 * Slurm time, the wrap TTL, the token source and the rest, in both files.
 */
import assert from "node:assert/strict";
import { loadJobSpec } from "../../src/config/job_spec.ts";
import { loadSiteProfile } from "../../src/config/site.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";

const JOB = `name: fft
input: data
command: bart fft -u -i 3 {input}/shepp_logan {output}/output_fft
resources:
  time: "00:10:00"
  mem: 4G
  cpus: 2
  gres: gpu:1
outputs: results
`;

const SITE = `name: test
ssh:
  login: { host: 127.0.0.1, port: 2222 }
  user: alice
remote:
  base_dir: /scratch/alice
vault:
  addr: https://vault.example.org:8200
  token_source: auto
  wrap_ttl: 72h
  key_mode: job-scoped
node:
  public_key: node.pub.asc
slurm:
  exclusive: true
  defaults:
    time: "01:00:00"
    mem: 8G
`;

/** "LINE:COL" (1-based) of the first occurrence of `token` in `text`. */
function positionOf(text: string, token: string): string {
  const at = text.indexOf(token);
  assert.ok(at >= 0, `${token} is not in the text`);
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

async function messageOf(load: (p: string) => Promise<unknown>, path: string): Promise<string> {
  try {
    await load(path);
  } catch (err) {
    assert.ok(err instanceof SealbatchError, String(err));
    assert.equal(err.kind, "input");
    return err.message;
  }
  throw new Error("expected a validation error");
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** [what, file text, the bad value as written (where the error must point), message]. */
type Case = [string, string, string, RegExp];

const JOB_CASES: Case[] = [
  [
    "a resources.time that is not a Slurm time",
    JOB.replace('"00:10:00"', '"ten minutes"'),
    '"ten minutes"',
    /resources\.time: expected a Slurm time such as 01:00:00 or 2-00:00:00, got "ten minutes"/,
  ],
  [
    "a resources.time with too many fields",
    JOB.replace('"00:10:00"', '"1:00:00:00"'),
    '"1:00:00:00"',
    /resources\.time: expected a Slurm time/,
  ],
  ["a memory that is not a size", JOB.replace("4G", "lots"), "lots", /resources\.mem: expected/],
  ["no CPUs", JOB.replace("cpus: 2", "cpus: 0"), "0\n", /resources\.cpus: expected a number >= 1/],
  [
    "a fraction of a CPU",
    JOB.replace("cpus: 2", "cpus: 1.5"),
    "1.5",
    /resources\.cpus: expected a whole number of CPUs, got 1\.5/,
  ],
  [
    "a gres with a space",
    JOB.replace("gpu:1", '"gpu 1"'),
    '"gpu 1"',
    /resources\.gres: unexpected characters/,
  ],
  [
    "extra_args that are not a list",
    JOB.replace("  gres: gpu:1", "  extra_args: --exclusive"),
    "--exclusive",
    /resources\.extra_args: expected a list of strings/,
  ],
  ["a name that is not a string", JOB.replace("name: fft", "name: [a]"), "[a]", /name: expected/],
];

const SITE_CASES: Case[] = [
  [
    "a wrap_ttl that is not a duration",
    SITE.replace("wrap_ttl: 72h", "wrap_ttl: three days"),
    "three days",
    /vault\.wrap_ttl: expected a duration such as 72h or 1h30m, got "three days"/,
  ],
  [
    "a token_source that is not a source",
    SITE.replace("token_source: auto", "token_source: keyring"),
    "keyring",
    /vault\.token_source: expected auto, env, file or file:PATH, got "keyring"/,
  ],
  [
    "a token_source file without a path",
    SITE.replace("token_source: auto", 'token_source: "file:"'),
    '"file:"',
    /vault\.token_source: expected auto, env, file or file:PATH/,
  ],
  [
    "a slurm.defaults.time that is not a Slurm time",
    SITE.replace('"01:00:00"', "soon"),
    "soon",
    /slurm\.defaults\.time: expected a Slurm time/,
  ],
  ["a slurm.defaults.mem", SITE.replace("8G", "8 GB"), "8 GB", /slurm\.defaults\.mem: expected/],
  [
    "a key mode that is not one",
    SITE.replace("key_mode: job-scoped", "key_mode: global"),
    "global",
    /vault\.key_mode: expected one of job-scoped, reference, got "global"/,
  ],
  [
    "exclusive that is not a boolean",
    SITE.replace("exclusive: true", "exclusive: maybe"),
    "maybe",
    /slurm\.exclusive: expected true or false/,
  ],
  ["a port of 0", SITE.replace("port: 2222", "port: 0"), "0 }", /ssh\.login\.port: expected/],
  [
    "a port that is not whole",
    SITE.replace("port: 2222", "port: 22.5"),
    "22.5",
    /ssh\.login\.port: expected a port 1-65535/,
  ],
  [
    "a host name with a space",
    SITE.replace("host: 127.0.0.1", 'host: "a b"'),
    '"a b"',
    /invalid host name "a b"/,
  ],
  [
    "a Vault address that is not a URL",
    SITE.replace("https://vault.example.org:8200", "vault"),
    "vault\n",
    /expected a URL such as https:\/\/vault\.example\.org:8200/,
  ],
];

for (const [what, text, bad, message] of JOB_CASES) {
  Deno.test(`job spec value error names file:line:column: ${what}`, async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/job.yaml`;
    await Deno.writeTextFile(path, text);
    const got = await messageOf(loadJobSpec, path);
    assert.match(got, new RegExp(`^${escape(path)}:${positionOf(text, bad)}: `));
    assert.match(got, message);
  });
}

for (const [what, text, bad, message] of SITE_CASES) {
  Deno.test(`site profile value error names file:line:column: ${what}`, async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/site.yaml`;
    await Deno.writeTextFile(path, text);
    const got = await messageOf(loadSiteProfile, path);
    assert.match(got, new RegExp(`^${escape(path)}:${positionOf(text, bad)}: `));
    assert.match(got, message);
  });
}

Deno.test("a bad resources.time is reported as job.yaml:5:9 with the value and an example", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/job.yaml`, JOB.replace('"00:10:00"', '"10 min"'));
  const got = await messageOf(loadJobSpec, `${dir.path}/job.yaml`);
  assert.equal(
    got,
    `${dir.path}/job.yaml:5:9: resources.time: expected a Slurm time such as 01:00:00 or ` +
      `2-00:00:00, got "10 min"`,
  );
});
