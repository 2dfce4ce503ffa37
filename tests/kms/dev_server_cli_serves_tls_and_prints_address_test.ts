import assert from "node:assert/strict";
import { CLI_ARGS, runCli, tempDir } from "../_helpers/cli.ts";
import { VaultClient } from "../../src/kms/vault_client.ts";
import { makePki } from "./_helpers.ts";

Deno.test("`sealbatch kms dev-server` starts as users start it, serves TLS and says it is a stand-in", async () => {
  await using dir = await tempDir();
  const pki = await makePki(dir.path);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      "kms",
      "dev-server",
      "--listen",
      "127.0.0.1:0",
      "--tls-cert",
      pki.cert,
      "--tls-key",
      pki.key,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/Root Token: \S+\n/.test(text)) {
    const { done, value } = await lines.read();
    if (done) break;
    text += value;
  }
  try {
    const addr = text.match(/Api Address: (\S+)/)?.[1];
    const token = text.match(/Root Token: (\S+)/)?.[1];
    assert.ok(addr?.startsWith("https://127.0.0.1:"), text);
    assert.ok(token?.startsWith("hvs."), text);
    const c = await VaultClient.connect({ addr: addr!, caCert: pki.ca }, token);
    try {
      assert.equal((await c.lookupSelf()).display_name, "root");
      assert.equal((await c.health()).sealed, false);
    } finally {
      c.close();
    }
  } finally {
    child.kill("SIGTERM");
    await lines.cancel().catch(() => {});
    const stderr = await new Response(child.stderr).text();
    await child.status;
    assert.match(stderr, /production uses HashiCorp Vault or OpenBao/);
  }
  const help = await runCli(["kms", "dev-server", "--help"]);
  assert.match(help.stdout, /stand-in/);
  assert.match(help.stdout, /HashiCorp Vault or OpenBao/);
  const open = await runCli(["kms", "dev-server", "--listen", "0.0.0.0:0"]);
  assert.equal(open.code, 4);
  assert.match(open.stderr, /refusing to serve plain HTTP/);
});
