/** known_hosts lookup: plain, hashed (made by the real ssh-keygen -H), [host]:port, patterns, @revoked. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  hostKeyName,
  judgeHostKey,
  knownKeyAlgorithms,
  parseKnownHosts,
} from "../../src/remote/known_hosts.ts";
import { tempDir } from "../_helpers/cli.ts";

async function keyPair(dir: string, name: string): Promise<{ line: string; blob: Uint8Array }> {
  const out = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/${name}`],
  }).output();
  assert.ok(out.success);
  const pub = (await Deno.readTextFile(`${dir}/${name}.pub`)).trim().split(" ");
  return { line: `${pub[0]} ${pub[1]}`, blob: Buffer.from(pub[1]!, "base64") };
}

Deno.test("known_hosts: plain, [host]:port and hashed entries match the right host only", async () => {
  await using tmp = await tempDir();
  const a = await keyPair(tmp.path, "a");
  const b = await keyPair(tmp.path, "b");
  const file = `${tmp.path}/known_hosts`;
  await Deno.writeTextFile(
    file,
    `login.example.org,10.0.0.1 ${a.line}\n[127.0.0.1]:2222 ${b.line}\nhashed.example.org ${b.line}\n`,
  );
  // Hash the file with OpenSSH itself so the |1| format is the real one.
  const hashed = await new Deno.Command("ssh-keygen", {
    args: ["-H", "-f", file],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(hashed.success);
  const text = await Deno.readTextFile(file);
  assert.match(text, /^\|1\|/m);
  const entries = parseKnownHosts(text);

  assert.deepEqual(judgeHostKey(entries, "login.example.org", 22, a.blob).ok, true);
  assert.deepEqual(judgeHostKey(entries, "10.0.0.1", 22, a.blob).ok, true);
  assert.equal(judgeHostKey(entries, "127.0.0.1", 2222, b.blob).ok, true);
  assert.equal(judgeHostKey(entries, "hashed.example.org", 22, b.blob).ok, true);
  // Same host, other key: changed. Other port: unknown.
  const changed = judgeHostKey(entries, "login.example.org", 22, b.blob);
  assert.equal(changed.ok, false);
  assert.equal(!changed.ok && changed.reason, "changed");
  const unknown = judgeHostKey(entries, "127.0.0.1", 22, b.blob);
  assert.equal(!unknown.ok && unknown.reason, "unknown");
  assert.deepEqual(knownKeyAlgorithms(entries, "127.0.0.1", 2222), ["ssh-ed25519"]);
  assert.equal(hostKeyName("h", 22), "h");
  assert.equal(hostKeyName("h", 2200), "[h]:2200");
});

Deno.test("known_hosts: wildcard and negated patterns, @revoked keys, malformed lines", async () => {
  await using tmp = await tempDir();
  const a = await keyPair(tmp.path, "a");
  const entries = parseKnownHosts(
    `*.hpc.example.org,!evil.hpc.example.org ${a.line}\n@revoked * ${a.line.replace(/^/, "")}\n`,
  );
  const v = judgeHostKey(entries, "login.hpc.example.org", 22, a.blob);
  assert.equal(!v.ok && v.reason, "revoked");
  const ok = judgeHostKey(
    parseKnownHosts(`*.hpc.example.org,!evil.hpc.example.org ${a.line}\n`),
    "login.hpc.example.org",
    22,
    a.blob,
  );
  assert.equal(ok.ok, true);
  const neg = judgeHostKey(
    parseKnownHosts(`*.hpc.example.org,!evil.hpc.example.org ${a.line}\n`),
    "evil.hpc.example.org",
    22,
    a.blob,
  );
  assert.equal(!neg.ok && neg.reason, "unknown");
  assert.throws(() => parseKnownHosts("host-only\n", "kh"), /kh:1: expected/);
});
