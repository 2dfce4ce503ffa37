/**
 * Through sudo (root, SUDO_UID set) the caller is an ordinary user: the job
 * must be theirs and the node's trust settings cannot be changed by flags.
 */
import { runCli } from "../_helpers/cli.ts";
import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";

const root = Deno.uid() === 0;

Deno.test({
  name: "through sudo, flags that choose trusted keys are refused",
  ignore: !root,
  fn: async () => {
    await using f = await fixture();
    const job = await seal(f);
    const res = await runNode(f, {
      script: job.runScript,
      env: { SUDO_UID: "0", SUDO_USER: "root" },
    });
    await assertRefused(
      f,
      res,
      /--config, --node-key, --signers, --state cannot be used through sudo/,
    );
  },
});

Deno.test({
  name: "through sudo, a user cannot run another account's job",
  ignore: !root,
  fn: async () => {
    await using f = await fixture();
    const job = await seal(f);
    // Settings from the environment (root's, as sudo's env_reset would leave them).
    await Deno.writeTextFile(
      f.config,
      `work_dir: work\nnode_key: ${f.nodeSec}\nsigners_dir: ${f.signers}\nstate_dir: ${f.state}\n`,
    );
    const res = await runCli(
      ["node", "decrypt-and-execute", "--script", job.runScript, "--user", "root"],
      {
        stdin: "",
        env: { SEALBATCH_NODE_CONFIG: f.config, SUDO_UID: "65534", SUDO_USER: "nobody" },
      },
    );
    await assertRefused(f, res, /belongs to "root" \(uid 0\), but uid 65534 asked to run it/);
  },
});
