import assert from "node:assert/strict";
import { argsForInvocation } from "../../src/node/invoked_as.ts";
import { parseScontrolJob } from "../../src/node/slurm_job.ts";
import { SealbatchError } from "../../src/util/errors.ts";

Deno.test("invoked as decrypt_and_execute, the binary runs node decrypt-and-execute", () => {
  assert.deepEqual(argsForInvocation(["--script", "x"], "/usr/bin/decrypt_and_execute"), [
    "node",
    "decrypt-and-execute",
    "--script",
    "x",
  ]);
  assert.deepEqual(argsForInvocation(["--help"], "/usr/local/bin/sealbatch"), ["--help"]);
  assert.deepEqual(argsForInvocation(["job"], undefined), ["job"]);
});

Deno.test("the job owner, batch script and nodes come from scontrol's record", () => {
  const line = "JobId=42 JobName=run.sh UserId=alice(1001) GroupId=alice(1001) Priority=1 " +
    "NodeList=sec[01-03] BatchHost=sec01 NumNodes=3 " +
    "Command=/scratch/alice/my jobs/run.sh WorkDir=/scratch/alice StdErr=/scratch/alice/slurm-42.out";
  assert.deepEqual(parseScontrolJob("42", line), {
    id: "42",
    user: "alice",
    uid: 1001,
    command: "/scratch/alice/my jobs/run.sh",
    nodeList: "sec[01-03]",
  });
  assert.throws(
    () => parseScontrolJob("42", "JobId=42 Command=(null)"),
    (e: unknown) => e instanceof SealbatchError && e.kind === "refused",
  );
});
