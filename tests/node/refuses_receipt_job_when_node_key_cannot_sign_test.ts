/**
 * A node key without signing capability (what `gpg --quick-gen-key NAME
 * rsa3072 encr` makes: certify + encrypt only) can decrypt jobs but cannot
 * sign receipts. A job that asks for a receipt is refused before it runs; a
 * job without `results` still runs.
 */
import assert from "node:assert/strict";
import { exec, hasProgram } from "../../src/util/exec.ts";
import { exists } from "../../src/util/files.ts";
import { assertRefused, fixture, runNode, runs, seal } from "./_fixture.ts";

const gpg = await hasProgram("gpg");

Deno.test({
  name: "a job asking for a receipt is refused before it runs when the node key cannot sign",
  ignore: !gpg,
  fn: async () => {
    await using f = await fixture();
    const home = `${f.dir}/gnupg`;
    await Deno.mkdir(home, { mode: 0o700 });
    const g = (args: string[]) => exec("gpg", ["--homedir", home, "--batch", "--quiet", ...args]);
    await g([
      "--passphrase",
      "",
      "--quick-gen-key",
      "node <node@x.org>",
      "rsa3072",
      "encr",
      "never",
    ]);
    await Deno.writeTextFile(f.nodePub, (await g(["--armor", "--export"])).text);
    await Deno.remove(f.nodeSec);
    const sec = await g([
      "--armor",
      "--pinentry-mode",
      "loopback",
      "--passphrase",
      "",
      "--export-secret-keys",
    ]);
    await Deno.writeTextFile(f.nodeSec, sec.text, { mode: 0o600 });
    await exec("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]).catch(() => {});

    const job = await seal(f, "with-results", { results: "output.results.img" });
    const res = await runNode(f, { script: job.runScript });
    await assertRefused(f, res, /asks for a receipt, but the node key cannot sign/);
    assert.match(res.stderr, /sealbatch keygen --kind node/);
    // Refused before its nonce was claimed: the job is not spent.
    assert.ok(!(await exists(`${f.state}/nonces/${job.manifest.nonce}`)));

    const plain = await seal(f, "without-results");
    const ok = await runNode(f, { script: plain.runScript });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await runs(f), 1);
  },
});
