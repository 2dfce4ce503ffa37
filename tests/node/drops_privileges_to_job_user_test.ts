import assert from "node:assert/strict";
import { fixture, runNode, seal } from "./_fixture.ts";
import { exec } from "../../src/util/exec.ts";

const root = Deno.uid() === 0;

Deno.test({
  name: "as root, the job runs as the job user (setpriv), not as root",
  ignore: !root,
  fn: async () => {
    await using f = await fixture();
    await Deno.chmod(f.dir, 0o755);
    await Deno.copyFile(f.userPub, `${f.signers}/nobody.asc`);
    const out = `${f.dir}/out`;
    await Deno.mkdir(out, { mode: 0o777 });
    await Deno.chmod(out, 0o777);
    const job = await seal(f, "job", {
      user: "nobody",
      command: { text: `#!/bin/bash\nid -un > '${out}/who'\necho "$HOME" >> '${out}/who'\n` },
    });
    // The job directory and its files are the job user's, as an upload by that user leaves them.
    const id = async (flag: string) => Number((await exec("id", [flag, "nobody"])).text.trim());
    const [uid, gid] = [await id("-u"), await id("-g")];
    for (const path of [`${f.dir}/job`, job.runScript, job.signature]) {
      await Deno.chown(path, uid, gid);
    }
    const res = await runNode(f, { script: job.runScript, args: ["--user", "nobody"] });
    assert.equal(res.code, 0, res.stderr);
    const [who] = (await Deno.readTextFile(`${out}/who`)).split("\n");
    assert.equal(who, "nobody");
    assert.deepEqual([...Deno.readDirSync(f.work)], []);
  },
});
