/**
 * A run that fails before submission leaves no live credentials behind it
 * unannounced: what can fail locally (a protected signing key without a
 * terminal) fails before anything is escrowed or created; a failure after
 * escrow but before run.sh is sealed revokes what was escrowed; a failure on
 * the shared side after sealing keeps the credentials for the resume, and the
 * run says so, until when, and how to revoke them.
 */
import assert from "node:assert/strict";
import { inputError } from "../../src/util/errors.ts";
import { type RunEvent, runJob } from "../../src/run/run.ts";
import { MEMORY_AVAILABLE, memoryDir } from "./_memory.ts";
import { localProject } from "./_local.ts";

const opts = { ignore: !MEMORY_AVAILABLE, sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "a protected signing key without a terminal fails before Vault and before any state",
  ...opts,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root, passphrase: "correct horse" });
    const noTerminal = () =>
      Promise.reject(inputError("cannot unlock signing key: there is no terminal"));
    const input = await p.input({ passphrase: noTerminal });
    await assert.rejects(runJob(input), /there is no terminal/);
    assert.deepEqual(await p.vault.kvList("secret", "sealbatch/"), []);
    await assert.rejects(Deno.stat(input.stateDir), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "a failure after escrow, before run.sh is sealed, revokes what was escrowed",
  ...opts,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root });
    const notes: string[] = [];
    const input = await p.input({
      onEvent: (e: RunEvent) => {
        // The node key goes away between escrow and sealing.
        if (e.step === "escrow" && e.phase === "done") Deno.removeSync(p.nodePublicKey);
        if (e.phase === "note") notes.push(e.detail ?? "");
      },
    });
    await assert.rejects(runJob(input));
    assert.ok(
      notes.some((n) => /were revoked: this run failed before submission/.test(n)),
      notes.join("\n"),
    );
    await Deno.stat(`${input.stateDir}/keys.revoked.json`);
    await assert.rejects(Deno.stat(`${input.stateDir}/keys.json`), Deno.errors.NotFound);
    assert.deepEqual(await p.vault.kvList("secret", "sealbatch/"), []);
  },
});

Deno.test({
  name: "a failure on the shared side after sealing keeps the credentials and says until when",
  ...opts,
  async fn() {
    await using mem = await memoryDir();
    await using p = await localProject({ memoryRoot: mem.root });
    // The stand-in shared directory cannot take the job's directory.
    await Deno.writeTextFile(`${p.dir}/shared/jobs`, "not a directory\n");
    const notes: string[] = [];
    const input = await p.input({
      onEvent: (e: RunEvent) => e.phase === "note" && notes.push(e.detail ?? ""),
    });
    await assert.rejects(runJob(input));
    assert.ok(
      notes.some((n) =>
        /credentials of local-00000001 stay in Vault until \d{4}-.* 'sealbatch keys revoke --job local-00000001/
          .test(n)
      ),
      notes.join("\n"),
    );
    assert.notDeepEqual(await p.vault.kvList("secret", "sealbatch/"), []);

    // The same run again, once the shared side is fixed, resumes without a second escrow.
    await Deno.remove(`${p.dir}/shared/jobs`);
    const done = await runJob(await p.input());
    assert.equal(done.exitCode, 0);
    assert.equal(done.steps.find((s) => s.name === "escrow")?.resumed, true);
  },
});
