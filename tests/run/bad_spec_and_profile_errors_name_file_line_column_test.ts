import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";

const SPEC = `name: bart-fft
input: input
command: "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft"
outputs: results
`;

const PROFILE = `name: testsite
sign_key: /nonexistent/user.sec.asc
ssh:
  login: { host: 127.0.0.1, port: 22 }
  user: alice
remote:
  base_dir: /scratch/alice/sealbatch
vault:
  addr: https://vault.example.org:8200
node:
  public_key: /nonexistent/node.pub.asc
  command: [/usr/local/bin/sealbatch]
`;

const CASES: [string, string, string, RegExp][] = [
  [
    "an unknown placeholder in the command",
    SPEC.replace("{output}/output_fft", "{outptu}/output_fft"),
    PROFILE,
    /job\.yaml:3:10: unknown placeholder "\{outptu\}"/,
  ],
  [
    "an output size that is not a size",
    SPEC + "output_size: lots\n",
    PROFILE,
    /job\.yaml:5:14: expected "auto" or a size such as 512M/,
  ],
  [
    "an output size too small for a container",
    SPEC + "output_size: 1M\n",
    PROFILE,
    /job\.yaml:5:14: the output container needs at least 2M/,
  ],
  [
    "a node command that is not a list",
    SPEC,
    PROFILE.replace("command: [/usr/local/bin/sealbatch]", "command: sealbatch"),
    /site\.yaml:12:12: node\.command: expected a list/,
  ],
  [
    "an empty node command",
    SPEC,
    PROFILE.replace("command: [/usr/local/bin/sealbatch]", "command: []"),
    /site\.yaml:12:12: node\.command: expected a list of words/,
  ],
  [
    "a typo in a profile key",
    SPEC,
    PROFILE.replace("sign_key:", "signkey:"),
    /site\.yaml:2:1: unknown key "signkey"/,
  ],
];

for (const [what, spec, profile, expected] of CASES) {
  Deno.test(`sealbatch run names file:line:column for ${what}`, async () => {
    await using dir = await tempDir();
    await Deno.writeTextFile(`${dir.path}/job.yaml`, spec);
    await Deno.writeTextFile(`${dir.path}/site.yaml`, profile);
    const r = await runCli(["run", "job.yaml", "--site", "site.yaml"], { cwd: dir.path });
    assert.equal(r.code, 3, r.stderr);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, expected);
    // Nothing was started: no project state.
    await assert.rejects(Deno.stat(`${dir.path}/.sealbatch`));
  });
}

Deno.test("sealbatch run rejects bad flags before reading anything", async () => {
  await using dir = await tempDir();
  for (
    const [args, re] of [
      [["run", "missing.yaml", "--site", "x.yaml", "--concurrency", "0"], /--concurrency/],
      [["run", "missing.yaml"], /no site given/],
      [["run", "missing.yaml", "--site", "x.yaml", "--new", "--each", "in/*"], /exclude/],
    ] as const
  ) {
    const r = await runCli([...args], { cwd: dir.path });
    assert.equal(r.code, 2, r.stderr);
    assertOneLineError(r.stderr);
    assert.match(r.stderr, re);
  }
});
