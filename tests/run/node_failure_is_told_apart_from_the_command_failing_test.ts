/**
 * A node step that fails (here: the input does not fit the node's work_dir)
 * is reported as what it is, with the fixed progress lines of the Slurm log:
 * "the node could not open the input: no space left ...; your command never
 * ran", not "the command exited with status 1". The Slurm log is read only
 * for its fixed tokens, so nothing else written there reaches the user.
 */
import assert from "node:assert/strict";
import {
  classifyFailure,
  describeFailure,
  failureLine,
  parseNodeLog,
} from "../../src/job/progress.ts";
import { runJob, workDirWarning } from "../../src/run/run.ts";
import { exec } from "../../src/util/exec.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { tempDir } from "../_helpers/cli.ts";
import { localProject } from "./_local.ts";

Deno.test("a withheld no-space error is classed no-space; the class line is fixed", () => {
  const enospc = Object.assign(new Error("No space left on device (os error 28): write"), {
    code: "ENOSPC",
  });
  const withheld = new SealbatchError(
    "tool",
    "cannot open the container: Error (details withheld)",
    {
      cause: new SealbatchError("tool", 'cannot open "input.img": Error (details withheld)', {
        cause: enospc,
      }),
    },
  );
  assert.equal(classifyFailure(withheld), "no-space");
  assert.equal(classifyFailure(new SealbatchError("intercepted", "used")), "credential-used");
  assert.equal(classifyFailure(new Error("?")), "unknown");
  assert.equal(
    failureLine("open-input", "no-space"),
    "sealbatch-node: failed: open-input: no-space",
  );
});

Deno.test("the Slurm log is read for its fixed tokens only", () => {
  const log = parseNodeLog([
    "sealbatch: job j-1 verified (signed by " + "A".repeat(40) + "), running as u",
    "sealbatch: keys fetched",
    'sealbatch: error: cannot open "secret-name.img": Error (details withheld)',
    "sealbatch-node: failed: open-input: no-space",
    "sealbatch-node: failed: open-input: rm -rf",
    "sealbatch: opening the input failed",
    "sealbatch: keys wiped",
    "anything someone wrote into the log",
  ].join("\n"));
  assert.deepEqual(log.failure, { stage: "open-input", class: "no-space" });
  assert.equal(log.commandStarted, false);
  assert.ok(!log.lines.some((l) => /secret-name|rm -rf|anything/.test(l)), log.lines.join("\n"));
  assert.equal(
    describeFailure(log),
    "the node could not open the input: no space left in the node's work directory (no-space); " +
      "your command never ran",
  );
  // A node without class lines: the job script's own line still names the stage.
  assert.deepEqual(parseNodeLog("sealbatch: fetching the keys failed\n").failure, {
    stage: "fetch-keys",
    class: "unknown",
  });
});

Deno.test("an input twice the stated work_dir or more is warned about", () => {
  assert.equal(workDirWarning(100 << 20, undefined), undefined);
  assert.equal(workDirWarning(100 << 20, 256 << 20), undefined);
  assert.match(
    workDirWarning(501 << 20, 256 << 20)!,
    /input\.img \(501 MiB\) will not fit the node's work_dir \(256 MiB as the site profile states/,
  );
});

Deno.test({
  name:
    "an input larger than the node's work_dir: the node could not open it, the command never ran",
  // Needs root to mount a small tmpfs as the node's work_dir.
  ignore: Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir("sealbatch-nospace");
    const tmpfs = `${dir.path}/tmpfs`;
    await Deno.mkdir(tmpfs);
    await exec("mount", ["-t", "tmpfs", "-o", "size=2m,mode=700", "sealbatch-test", tmpfs]);
    try {
      await using p = await localProject({
        memoryRoot: tmpfs,
        spec: 'name: big\ninput: input\ncommand: "touch {output}/ran"\noutputs: results\n',
      });
      // Random bytes do not compress: the container is larger than the node's 2 MiB work_dir.
      const data = new Uint8Array(3 << 20);
      for (let i = 0; i < data.length; i += 65536) {
        crypto.getRandomValues(data.subarray(i, i + 65536));
      }
      await Deno.writeFile(`${p.project}/input/scan.raw`, data);
      // The node refuses before it fetches a key or writes a receipt: the failure comes from the
      // fixed line of the log alone.
      const err = await runJob(
        await p.input({ stateDir: `${p.project}/.sealbatch/jobs/big-00000001` }),
      ).then(() => assert.fail("the run succeeded"), (e) => e);
      assert.ok(err instanceof SealbatchError, String(err));
      assert.doesNotMatch(err.hint ?? "", /keys fetched/);
      assert.equal(err.exitCode, 8);
      assert.match(
        err.message,
        /^job big-00000001 \(Slurm local-1\) ended FAILED without a receipt: the node could not open the input: no space left in the node's work directory \(no-space\); your command never ran$/,
      );
      assert.doesNotMatch(err.message, /command exited/);
      assert.match(err.hint ?? "", /sealbatch-node: failed: open-input: no-space/);
      assert.match(err.hint ?? "", /ask the site for more room there .*node\.work_dir_size/);
    } finally {
      await exec("umount", [tmpfs]).catch(() => {});
    }
  },
});
