import assert from "node:assert/strict";
import { loadNodeConfig, NODE_DEFAULTS } from "../../src/node/config.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("node config: relative paths are taken from the config file's directory", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/node.yaml`;
  await Deno.writeTextFile(
    file,
    "node_key: keys/node.sec.asc\nsigners_dir: /srv/signers\naccept_unmanifested: true\n" +
      "vault_addr: https://vault.example.org:8200\n",
  );
  const c = await loadNodeConfig(file);
  assert.equal(c.nodeKey, `${dir.path}/keys/node.sec.asc`);
  assert.equal(c.signersDir, "/srv/signers");
  assert.equal(c.stateDir, NODE_DEFAULTS.stateDir);
  assert.equal(c.acceptUnmanifested, true);
  assert.equal(c.vaultAddr, "https://vault.example.org:8200");
});

Deno.test("node config: accept_unmanifested defaults to false", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/n.yaml`, "state_dir: s\n");
  assert.equal((await loadNodeConfig(`${dir.path}/n.yaml`)).acceptUnmanifested, false);
});

Deno.test("node config: an explicitly named missing file is an input error", async () => {
  await assert.rejects(
    () => loadNodeConfig("/nonexistent/node.yaml"),
    (e: unknown) => e instanceof SealbatchError && e.kind === "input",
  );
});

Deno.test("node config: a typo in a key exits 3 with file:line:col", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/node.yaml`;
  await Deno.writeTextFile(file, "node_key: /k\nsigner_dir: /s\n");
  const res = await runCli(["node", "decrypt-and-execute", "--config", file, "--script", "x"], {
    stdin: "",
  });
  assert.equal(res.code, 3);
  assertOneLineError(res.stderr);
  assert.match(res.stderr, /node\.yaml:2:1: unknown key "signer_dir"/);
});
