import assert from "node:assert/strict";
import { assertOneLineError, runCli, tempDir } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";
import { permissionFlags } from "../../src/util/permissions.ts";
import { buildFlags } from "../../scripts/permissions.ts";
import { hasProgram } from "../../src/util/exec.ts";
import { buildBundle, isolate, runBundle } from "./bundle_helper.ts";

/**
 * The permission list exactly as shipped (no overrides): the bundle run with
 * permissionFlags(), and the checkout run with deno.json's set (-P=sealbatch).
 * Each refusal must be exit 10 with one clean error line, and must come before
 * the file is read or the host is contacted.
 */

/** A TCP listener that counts who connected (127.0.0.2 is loopback, but not on the list). */
function countingListener(hostname: string) {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const seen: number[] = [];
  let wake = () => {};
  const loop = (async () => {
    for await (const conn of listener) {
      seen.push((conn.remoteAddr as Deno.NetAddr).port);
      conn.close();
      wake();
    }
  })().catch(() => {});
  return {
    port,
    /** Connections other than our own probe; the probe comes last, so all earlier ones are in. */
    async others(): Promise<number> {
      const probe = await Deno.connect({ hostname, port });
      const mine = (probe.localAddr as Deno.NetAddr).port;
      while (!seen.includes(mine)) await new Promise<void>((r) => (wake = r));
      probe.close();
      return seen.filter((p) => p !== mine).length;
    },
    async close(): Promise<void> {
      listener.close();
      await loop;
    },
  };
}

function profile(login: string, vault: string, knownHosts: string, identity: string): string {
  const [host, port] = login.split(":");
  return [
    "name: elsewhere",
    "ssh:",
    `  login: { host: ${host}, port: ${port} }`,
    "  user: alice",
    `  identity: ${identity}`,
    `  known_hosts: ${knownHosts}`,
    "remote:",
    "  base_dir: /scratch/alice/sealbatch",
    "vault:",
    `  addr: ${vault}`,
    "node:",
    "  public_key: node.pub.asc",
  ].join("\n") + "\n";
}

function assertRefused(r: CliResult, what: RegExp, label: string): void {
  assert.equal(r.code, 10, `${label}: ${r.stderr}`);
  assertOneLineError(r.stderr);
  assert.match(r.stderr, what, label);
}

const canKeygen = await hasProgram("ssh-keygen");

Deno.test({
  name: "shipped flags: /etc/shadow, a write below /usr and unlisted hosts are refused (exit 10)",
  ignore: !(await Deno.stat("/etc/shadow").then(() => true, () => false)) || !canKeygen,
  async fn() {
    await using dist = await tempDir("sealbatch-dist");
    await using work = await tempDir("sealbatch-shipped");
    const bundle = await isolate(await buildBundle(dist.path), work.path);
    const flags = permissionFlags();
    // What the build wrote beside the bundle is exactly the shipped list.
    const written = await Deno.readTextFile(`${dist.path}/sealbatch.js.flags`);
    assert.deepEqual(written.trim().split("\n"), flags);
    assert.ok(flags.includes("--allow-net=127.0.0.1,localhost,[::1]"), flags.join(" "));

    const w = work.path;
    await Deno.writeTextFile(`${w}/known_hosts`, "");
    const keygen = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ed25519", "-N", "", "-f", `${w}/id`],
    }).output();
    assert.ok(keygen.success);
    const ssh = countingListener("127.0.0.2");
    const vault = countingListener("127.0.0.2");
    const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = (dead.addr as Deno.NetAddr).port;
    dead.close();
    const write = async (name: string, login: string, addr: string) => {
      await Deno.writeTextFile(`${w}/${name}`, profile(login, addr, `${w}/known_hosts`, `${w}/id`));
      return `${w}/${name}`;
    };
    const unroutable = await write("far.yaml", "10.255.255.1:22", "https://10.255.255.1:8200");
    const listening = await write("near.yaml", `127.0.0.2:${ssh.port}`, "https://127.0.0.1:1");
    const loopback = await write("here.yaml", `127.0.0.1:${deadPort}`, "https://127.0.0.1:1");
    const forbidden = `/usr/local/sealbatch-denied-${crypto.randomUUID().slice(0, 8)}`;

    const ways: [string, (args: string[], env?: Record<string, string>) => Promise<CliResult>][] = [
      [
        "bundle",
        (args, env = {}) => runBundle({ cwd: w, bundle, flags, offline: false, env }, args),
      ],
      ["source", (args, env = {}) => runCli(args, { cwd: w, env: { SSH_AUTH_SOCK: "", ...env } })],
    ];
    try {
      for (const [way, run] of ways) {
        // A key file outside what sealbatch may read: refused before Vault is asked.
        let r = await run([
          "keys",
          "escrow",
          "--job",
          "j1",
          "--key",
          "x=/etc/shadow",
          "--out",
          "c.json",
        ], {
          VAULT_ADDR: "http://127.0.0.1:1",
          VAULT_TOKEN: "hvs.test",
        });
        assertRefused(
          r,
          /^sealbatch: error: permission denied: .*read access to "\/etc\/shadow"/m,
          `${way}: read`,
        );
        await assert.rejects(Deno.stat(`${w}/c.json`), Deno.errors.NotFound);

        r = await run(["sample", "shepp-logan", "--out", forbidden]);
        assertRefused(
          r,
          /permission denied: .*write access to "\/usr\/local\/sealbatch-denied/,
          `${way}: write`,
        );
        await assert.rejects(Deno.stat(forbidden), Deno.errors.NotFound);

        // An unroutable host would hang until the SSH timeout (then exit 6): refused at once.
        r = await run(["job", "status", "1", "--site", unroutable]);
        assertRefused(
          r,
          /permission denied: SSH login host 10\.255\.255\.1:22 is not on this sealbatch's network list/,
          `${way}: ssh`,
        );
        assert.match(
          r.stderr,
          /^hint: build sealbatch for this site: deno task compile -- --site/m,
        );
        r = await run(["kms", "health", "--vault-addr", "https://10.255.255.1:8200"]);
        assertRefused(
          r,
          /permission denied: Vault at 10\.255\.255\.1:8200 is not on/,
          `${way}: vault`,
        );

        // A host that listens: nothing reaches it.
        r = await run(["job", "status", "1", "--site", listening]);
        assertRefused(r, /SSH login host 127\.0\.0\.2:\d+ is not on/, `${way}: listening ssh`);
        r = await run(["kms", "health", "--vault-addr", `https://127.0.0.2:${vault.port}`]);
        assertRefused(r, /Vault at 127\.0\.0\.2:\d+ is not on/, `${way}: listening vault`);

        // Loopback is on the list: the same command gets as far as the (closed) port.
        r = await run(["job", "status", "1", "--site", loopback]);
        assert.equal(r.code, 6, `${way}: loopback: ${r.stderr}`);
        assert.match(r.stderr, /cannot connect to "alice@127\.0\.0\.1:\d+"/);
      }
      assert.equal(await ssh.others(), 0, "a refused SSH host was contacted");
      assert.equal(await vault.others(), 0, "a refused Vault host was contacted");

      // Built for that site, the bundle may go there (and finds the port closed).
      const closed = await write("closed.yaml", `127.0.0.2:${deadPort}`, "https://127.0.0.1:1");
      const siteFlags = await buildFlags({ sites: [closed], nets: [] });
      assert.ok(siteFlags.includes(`--allow-net=127.0.0.1,localhost,[::1],127.0.0.2:${deadPort}`));
      const r = await runBundle(
        { cwd: w, bundle, flags: siteFlags, offline: false },
        ["job", "status", "1", "--site", closed],
      );
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /cannot connect to "alice@127\.0\.0\.2:\d+"/);
    } finally {
      await ssh.close();
      await vault.close();
      await Deno.remove(forbidden, { recursive: true }).catch(() => {});
    }
  },
});
