/**
 * `node check` is the admin's self-test: a node set up as docs/admin.md says passes every line
 * it can check here, and each unsafe setting is its own FAIL line with a hint; any failure exits 3
 * with one error line naming the failed checks. Hermetic: a node config in a temp directory.
 */
import assert from "node:assert/strict";
import { generateKeyPair } from "../../src/pgp/keys.ts";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";

interface Node {
  dir: string;
  config: string;
  wrapper: string;
}

async function node(root: string, opts: { protectedKey?: boolean } = {}): Promise<Node> {
  const nodeKey = await generateKeyPair({
    name: "node",
    email: "root@node",
    ...(opts.protectedKey ? { passphrase: "secret" } : {}),
  });
  const user = await generateKeyPair({ name: "root", email: "root@client" });
  await Deno.mkdir(`${root}/signers`, { mode: 0o755 });
  await Deno.mkdir(`${root}/state`, { mode: 0o700 });
  await Deno.mkdir(`${root}/work`, { mode: 0o711 });
  await Deno.writeTextFile(`${root}/node.sec.asc`, nodeKey.privateArmored, { mode: 0o600 });
  // A signer named after an account every machine has.
  await Deno.writeTextFile(`${root}/signers/root.asc`, user.publicArmored, { mode: 0o644 });
  const wrapper = `${root}/decrypt_and_execute`;
  await Deno.writeTextFile(
    wrapper,
    '#!/bin/sh\nexec sudo -n /usr/local/sbin/sealbatch-node node decrypt-and-execute "$@"\n',
    { mode: 0o755 },
  );
  const config = `${root}/node.yaml`;
  await Deno.writeTextFile(
    config,
    `node_key: node.sec.asc\nsigners_dir: signers\nstate_dir: state\nwork_dir: work\n`,
  );
  for (const p of [root, `${root}/signers`, `${root}/work`]) await Deno.chmod(p, 0o755);
  await Deno.chmod(`${root}/work`, 0o711);
  return { dir: root, config, wrapper };
}

const check = (n: Node) =>
  runCli(["node", "check", "--config", n.config, "--wrapper", n.wrapper, "--user", "root"]);

function line(stdout: string, name: string): string {
  return stdout.split("\n").find((l) => l.slice(5).startsWith(`${name}:`)) ?? "";
}

Deno.test("node check: a sound node passes key, signers, state and wrapper; a disk work_dir fails", async () => {
  await using tmp = await tempDir("sealbatch-node-check");
  const n = await node(tmp.path);
  const r = await check(n);
  for (const name of ["node config", "node key", "signers", "state directory", "wrapper"]) {
    assert.match(line(r.stdout, name), /^ok /, `${name}\n${r.stdout}`);
  }
  assert.match(line(r.stdout, "signers"), /1 registered \(root\)/);
  assert.match(line(r.stdout, "wrapper"), /sudo \/usr\/local\/sbin\/sealbatch-node$/);
  // The temp directory is on disk, not node-local memory: that alone fails.
  assert.match(line(r.stdout, "work directory"), /^FAIL .*not node-local memory/, r.stdout);
  assert.equal(r.code, 3, r.stderr);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, /node check: \d+ of \d+ checks failed: work directory/);
});

Deno.test("node check: each unsafe setting is its own FAIL line with a hint", async () => {
  await using tmp = await tempDir("sealbatch-node-check");
  const cases: [string, (n: Node) => Promise<void>, RegExp][] = [
    ["node key", (n) => Deno.chmod(`${n.dir}/node.sec.asc`, 0o644), /readable by group or others/],
    ["signers", (n) => Deno.chmod(`${n.dir}/signers`, 0o777), /writable by group or others/],
    ["state directory", (n) => Deno.chmod(`${n.dir}/state`, 0o755), /open to group or others/],
    [
      "wrapper",
      (n) => Deno.writeTextFile(n.wrapper, '#!/bin/sh\nexec sealbatch "$@"\n'),
      /does not run 'sudo -n PATH/,
    ],
    ["wrapper", (n) => Deno.chmod(n.wrapper, 0o777), /writable by group or others/],
  ];
  for (const [i, [name, spoil, why]] of cases.entries()) {
    await Deno.mkdir(`${tmp.path}/${i}`);
    const n = await node(`${tmp.path}/${i}`);
    await spoil(n);
    const r = await check(n);
    const lines = r.stdout.split("\n");
    const at = lines.indexOf(line(r.stdout, name));
    assert.match(lines[at] ?? "", why, `${name}\n${r.stdout}`);
    assert.match(lines[at] ?? "", /^FAIL /);
    assert.match(lines[at + 1] ?? "", /^ {5}\S/, "the hint follows the failed line");
    assert.equal(r.code, 3);
  }
});

Deno.test("node check: a passphrase-protected node key fails (decrypt_and_execute runs unattended)", async () => {
  await using tmp = await tempDir("sealbatch-node-check");
  const r = await check(await node(tmp.path, { protectedKey: true }));
  assert.match(line(r.stdout, "node key"), /^FAIL .*protected by a passphrase/, r.stdout);
});
