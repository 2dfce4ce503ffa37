/** A third-party client (curl, as Vault's API docs use it) works against the development server unchanged. */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { hasProgramSync, startTlsVault } from "./_helpers.ts";

Deno.test({
  name: "curl: KV v2 write/read/list, Bearer auth, wrap and unwrap over TLS",
  ignore: !hasProgramSync("curl"),
  fn: async () => {
    await using dir = await tempDir();
    await using vault = await startTlsVault(dir.path);
    const curl = async (...args: string[]) => {
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--fail-with-body",
          "--cacert",
          vault.pki.ca,
          "-H",
          `X-Vault-Token: ${vault.rootToken}`,
          ...args,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(
        out.success,
        `curl ${args.join(" ")}: ${text} ${new TextDecoder().decode(out.stderr)}`,
      );
      return text ? JSON.parse(text) : null;
    };
    const a = vault.addr;
    const w = await curl(
      "--request",
      "POST",
      "--data",
      '{"data":{"foo":"bar"}}',
      `${a}/v1/secret/data/hello`,
    );
    assert.equal(w.data.version, 1);
    const r = await curl(`${a}/v1/secret/data/hello`);
    assert.deepEqual(r.data.data, { foo: "bar" });
    const l = await curl("--request", "LIST", `${a}/v1/secret/metadata/`);
    assert.deepEqual(l.data.keys, ["hello"]);
    const q = await curl(`${a}/v1/secret/metadata/?list=true`);
    assert.deepEqual(q.data.keys, ["hello"]);

    const wrapped = await curl(
      "--request",
      "POST",
      "--header",
      "X-Vault-Wrap-TTL: 5m",
      "--data",
      '{"zip":"zap"}',
      `${a}/v1/sys/wrapping/wrap`,
    );
    assert.equal(wrapped.wrap_info.ttl, 300);
    const token = wrapped.wrap_info.token as string;
    const lookup = await curl(
      "--request",
      "POST",
      "--data",
      JSON.stringify({ token }),
      `${a}/v1/sys/wrapping/lookup`,
    );
    assert.equal(lookup.data.creation_path, "sys/wrapping/wrap");
    // Unwrap with another token in the header and the wrapping token in the body.
    const unwrapped = await curl(
      "--request",
      "POST",
      "--data",
      JSON.stringify({ token }),
      `${a}/v1/sys/wrapping/unwrap`,
    );
    assert.deepEqual(unwrapped.data, { zip: "zap" });

    const bearer = await new Deno.Command("curl", {
      args: [
        "-sS",
        "--cacert",
        vault.pki.ca,
        "-H",
        `Authorization: Bearer ${vault.rootToken}`,
        `${a}/v1/auth/token/lookup-self`,
      ],
      stdout: "piped",
    }).output();
    const self = JSON.parse(new TextDecoder().decode(bearer.stdout));
    assert.deepEqual(self.data.policies, ["root"]);
    assert.equal(self.data.id, vault.rootToken);
  },
});
