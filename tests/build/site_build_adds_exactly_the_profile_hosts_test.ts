import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { buildFlags, netList, siteTargets, takeNetOptions } from "../../scripts/permissions.ts";
import { loadSiteProfile } from "../../src/config/site.ts";

const PROFILE = `name: hpc
ssh:
  login: { host: login.hpc.example.org }
  transfer: { host: transfer.hpc.example.org, port: 2222 }
  jump: { host: "[2001:db8::1]", port: 22 }
  user: alice
remote:
  base_dir: /scratch/alice/sealbatch
vault:
  addr: https://vault.example.org
node:
  public_key: node.pub.asc
`;

Deno.test("a site profile adds its login, transfer, jump and Vault hosts with their ports", async () => {
  await using dir = await tempDir("sealbatch-site-build");
  const file = `${dir.path}/hpc.yaml`;
  await Deno.writeTextFile(file, PROFILE);
  const targets = siteTargets(await loadSiteProfile(file));
  assert.deepEqual(targets, [
    "login.hpc.example.org:22",
    "transfer.hpc.example.org:2222",
    "[2001:db8::1]:22",
    "vault.example.org:443",
  ]);
  const net = await netList({
    sites: [file, file],
    nets: ["vault.internal:8200", "localhost:8200"],
  });
  // Loopback first, each target once; a host already allowed on every port adds nothing.
  assert.deepEqual(net, ["127.0.0.1", "localhost", "[::1]", ...targets, "vault.internal:8200"]);
  const flags = await buildFlags({ sites: [file], nets: [] });
  assert.ok(flags.includes(`--allow-net=127.0.0.1,localhost,[::1],${targets.join(",")}`));
  assert.ok(flags.some((f) => f.startsWith("--deny-read=")));
});

Deno.test("build options: --site and --net are taken out, the rest is left, bad targets refused", () => {
  const { options, rest } = takeNetOptions([
    "--",
    "--site",
    "hpc",
    "--dist",
    "out",
    "--net=unix:/run/user/1000/ssh-agent.socket",
    "--net",
    "10.0.0.5:8200",
  ]);
  assert.deepEqual(options, {
    sites: ["hpc"],
    nets: ["unix:/run/user/1000/ssh-agent.socket", "10.0.0.5:8200"],
  });
  assert.deepEqual(rest, ["--dist", "out"]);
  assert.throws(() => takeNetOptions(["--net", "a b"]), /invalid --net "a b"/);
  assert.throws(() => takeNetOptions(["--net", "*"]), /invalid --net/);
  assert.throws(() => takeNetOptions(["--site"]), /--site needs a value/);
});
