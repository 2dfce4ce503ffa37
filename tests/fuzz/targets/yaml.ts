/** YAML job specs and site profiles, read from a file as the CLI reads them. */
import { loadJobSpec } from "../../../src/config/job_spec.ts";
import { loadSiteProfile } from "../../../src/config/site.ts";
import { siteTemplate } from "../../../src/config/site_template.ts";
import { type FuzzTarget, type Rng, utf8 } from "../_harness.ts";
import { caseFiles } from "../_targets.ts";

const JOB_SPECS = [
  `name: bart-fft
input: data # a directory; sealed into a LUKS2 container
image: { sif: bart.sif, key: keys/rsa_pri.pem }
command: bart fft -u -i 3 {input}/shepp_logan {output}/output_fft
resources: { time: "00:10:00", mem: 4G }
outputs: results
`,
  `name: recon.v2
input_container:
  path: inputs/scan-01.img
  key: inputs/scan-01.key
image:
  definition: recon.def
  encrypted: true
command: "{image} --in {input} --out {output}"
resources:
  time: "02:00:00"
  mem: 16G
  cpus: 8
  gres: "gpu:1"
  account: proj-42
  reservation: mri
  extra_args: ["--qos=high", "--nice=10"]
outputs: out/recon
output_size: 512M
`,
  `name: plain
input: ./data
command: |
  set -e
  cp -r {input}/. {output}/
`,
];

const SITE_PROFILES = [
  siteTemplate("mysite", "alice"),
  `name: other
ssh:
  login: { host: "[::1]", port: 2222, user: bob }
  transfer: { host: transfer.example.org }
  jump: { host: gw.example.org, port: 22, user: bob }
  user: bob
  host_key_fingerprint: SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
remote: { base_dir: /scratch/bob/sealbatch }
vault:
  addr: http://127.0.0.1:8200
  mount: kv
  namespace: team/a
  token_source: file:~/.vault-token-other
  wrap_ttl: 1h30m
  key_mode: reference
  reference_policy: secure-hpc-user
  tunnel: true
node: { public_key: /etc/node.pub.asc, flavour: reference, command: [sealbatch, --quiet] }
slurm:
  partition: secure,backup
  exclusive: false
  programs: { sbatch: /opt/slurm/bin/sbatch, squeue: /opt/slurm/bin/squeue }
  defaults: { time: "01:00:00", mem: 8G, cpus: 4 }
`,
];

const TOKENS = [
  "&a ",
  "*a",
  "<<: *a\n",
  "!!binary ",
  "!!str ",
  "!!int ",
  "!!map ",
  "!!js/function ",
  "!foo ",
  "---\n",
  "...\n",
  "? ",
  ": ",
  "- ",
  "{",
  "}",
  "[",
  "]",
  "|\n",
  ">-\n",
  "'",
  '"',
  "#",
  "%YAML 1.1\n",
  "%TAG ! tag:x,2000:\n",
  "\n  ",
  "~",
  "null",
  ".inf",
  "-.inf",
  ".nan",
  "0x7fffffffffffffff",
  "1e400",
  "__proto__: {}\n",
  "constructor: 1\n",
  "name: x\n",
  "{input}",
  "{nope}",
  "\\x00",
  "\\u0000",
];

/** Alias/anchor bombs, deep nesting, duplicate keys, huge scalars and keys. */
function hostile(rng: Rng, maxBytes: number): Uint8Array {
  const kind = rng.int(8);
  const n = 1 + rng.int(rng.chance(0.2) ? 100_000 : 2000);
  switch (kind) {
    case 0: { // billion laughs
      const width = 2 + rng.int(12);
      const lines = [`a0: &a0 [${Array(width).fill('"lol"').join(",")}]`];
      for (let i = 1; i < 2 + rng.int(12); i++) {
        lines.push(`a${i}: &a${i} [${Array(width).fill(`*a${i - 1}`).join(",")}]`);
      }
      return utf8(`name: bomb\n${lines.join("\n")}\n`);
    }
    case 1: // deep flow nesting
      return utf8(`name: ${"[".repeat(n)}${rng.chance(0.5) ? "]".repeat(n) : ""}\n`);
    case 2: // deep block nesting
      return utf8(
        Array.from({ length: Math.min(n, 3000) }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n"),
      );
    case 3: { // duplicate keys
      const key = rng.pick(["name", "input", "command", "ssh", "a"]);
      return utf8(Array.from({ length: Math.min(n, 5000) }, (_, i) => `${key}: v${i}`).join("\n"));
    }
    case 4: { // huge scalar (sometimes above the 1 MiB limit)
      const size = rng.chance(0.3) ? 64 * 1024 + rng.int(64) - 32 : rng.int(200_000);
      const field = rng.pick(["name", "command", "input", "outputs", "x"]);
      return utf8(`${field}: ${"A".repeat(Math.max(0, Math.min(size, maxBytes - 16)))}\n`);
    }
    case 5: { // aliases to a large anchored node, merged
      return utf8(
        `base: &b {${
          Array.from({ length: Math.min(n, 500) }, (_, i) => `k${i}: ${i}`).join(", ")
        }}\n` +
          Array.from({ length: Math.min(n, 200) }, (_, i) => `m${i}: {<<: *b}`).join("\n"),
      );
    }
    case 6: // undefined alias, alias cycles, anchors on keys
      return utf8(
        rng.pick([
          "name: *undefined\n",
          "a: &x [*x]\n",
          "&k name: v\n*k : w\n",
          "? &a [1]\n: *a\n",
          "name: &n x\ncommand: *n\ninput: *n\n",
        ]),
      );
    default: { // huge key, many documents
      return rng.chance(0.5)
        ? utf8(`${"k".repeat(rng.int(300_000))}: v\n`)
        : utf8("---\nname: a\n".repeat(Math.min(n, 20000)));
    }
  }
}

export async function makeTarget(name: string): Promise<FuzzTarget> {
  const files = await caseFiles(name);
  const job = name === "job-spec";
  const maxBytes = 64 * 1024 + 1024;
  return {
    name,
    seeds: (job ? JOB_SPECS : SITE_PROFILES).map(utf8),
    tokens: TOKENS,
    maxBytes,
    generate: (rng) => hostile(rng, maxBytes),
    exitCodes: [3],
    async run(input) {
      const path = await files.write(job ? "job.yaml" : "site.yaml", input);
      return job ? await loadJobSpec(path) : await loadSiteProfile(path);
    },
    close: files.remove,
  };
}
