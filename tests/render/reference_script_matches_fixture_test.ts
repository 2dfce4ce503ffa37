/**
 * The reference flavour against a fixture made from gwdg/secure-hpc
 * client/command.sh.template (tutorial/JobTemplate/command.sh.template for
 * the `singularity run` form): the template's placeholders filled with the
 * values below, one unwrap + getkey per key (each key has its own single-use
 * wrapping token), values single-quoted.
 */
import assert from "node:assert/strict";
import { renderReferenceScript } from "../../src/render/reference.ts";
import type { ReferenceRenderInput } from "../../src/render/reference.ts";
import type { Credentials } from "../../src/kms/credentials.ts";
import { exec } from "../../src/util/exec.ts";
import { SealbatchError } from "../../src/util/errors.ts";

const FIXTURE = new URL("./fixtures/reference_command.sh", import.meta.url);

const credentials: Credentials = {
  v: 1,
  kind: "sealbatch-credentials",
  mode: "reference",
  job: "bart-1",
  user: "alice",
  vault_addr: "https://141.5.111.67:81",
  expires_at: "2030-01-01T00:00:00Z",
  keys: [
    {
      name: "inputdata",
      path: "secret/data/user_2/inputdata",
      token: "hvs.WRAPPEDinputdata0000000001",
    },
    { name: "outdata", path: "secret/data/user_2/outdata", token: "hvs.WRAPPEDoutdata00000000002" },
    { name: "rsa_pri", path: "secret/data/user_2/rsa_pri", token: "hvs.WRAPPEDrsapri000000000003" },
  ],
};

const input: ReferenceRenderInput = {
  credentials,
  hpcUser: "alice",
  containers: { input: "inputdata", output: "outdata" },
  imageKey: "rsa_pri",
  image: "/scratch/users/alice/home/bart_fft_enc.sif",
  command: "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft",
  setupToken: "hvs.DEFAULTTOKENdefaulttoken01",
};

Deno.test("the reference script is the template with its placeholders filled", async () => {
  const rendered = renderReferenceScript(input);
  assert.equal(rendered, await Deno.readTextFile(FIXTURE));
  // What the reference node scripts expect, line by line.
  assert.match(rendered, /^token=\$\(vault unwrap -field=token \$token\)$/m);
  assert.match(rendered, /^getkey 'user_2' 'inputdata' 'alice'$/m);
  assert.match(rendered, /^mount_data 'inputdata'$/m);
  assert.match(rendered, / run --pem-path='\/keys\/rsa_pri.key' --bind /);
  assert.match(rendered, /^umount_data 'outdata'$/m);
  await exec("bash", ["-n"], { stdin: rendered, what: "bash -n" });
});

Deno.test("the reference renderer refuses what the reference node cannot run", () => {
  const refused = (edit: Partial<ReferenceRenderInput>, why: RegExp) =>
    assert.throws(
      () => renderReferenceScript({ ...input, ...edit }),
      (e: unknown) => e instanceof SealbatchError && why.test(e.message),
    );
  refused({ credentials: { ...credentials, mode: "job-scoped" } }, /not in reference mode/);
  refused({ containers: { input: "input0" } }, /invalid container name/);
  refused({ containers: { input: "in-data" } }, /invalid container name/);
  refused({ imageKey: "missing" }, /no credential for key "missing"/);
  refused({
    credentials: {
      ...credentials,
      keys: credentials.keys.map((k) => ({ ...k, path: `secret/data/sealbatch/u/j/${k.name}` })),
    },
  }, /not at <mount>\/data\/<user>\/inputdata/);
});
