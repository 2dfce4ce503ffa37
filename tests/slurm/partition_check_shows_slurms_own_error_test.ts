/**
 * When the partition check fails, Slurm's own words are shown: "cannot read
 * its configuration" needs another fix than "no such partition". Real
 * scontrol on this machine, given a Slurm configuration it cannot use.
 */
import assert from "node:assert/strict";
import { localShell } from "../../src/slurm/shell.ts";
import { defaultSlurmSettings, partitionVisible } from "../../src/slurm/slurm.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { tempDir } from "../_helpers/cli.ts";

Deno.test({
  name: "a partition check that Slurm cannot answer shows what scontrol said",
  ignore: !(await hasProgram("scontrol")),
  async fn() {
    await using dir = await tempDir("sealbatch-scontrol");
    await Deno.writeTextFile(`${dir.path}/slurm.conf`, "# no cluster here\n");
    // The real scontrol, pointed at that configuration.
    const wrapper = `${dir.path}/scontrol`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nSLURM_CONF=${dir.path}/slurm.conf exec scontrol "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    const settings = { ...defaultSlurmSettings(), programs: { scontrol: wrapper } };
    const r = await partitionVisible(localShell(), settings);
    assert.equal(r.visible, false);
    assert.match(r.said ?? "", /fatal: Unable to process configuration file/);
    assert.doesNotMatch(r.said ?? "", /\n/);
  },
});
