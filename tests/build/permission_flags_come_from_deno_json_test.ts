import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { permissionFlags, shippedPermissions } from "../../src/util/permissions.ts";

const shipped = denoJson.permissions.sealbatch;

Deno.test("the shipped flags are deno.json's sealbatch set, explicit, never --allow-all", () => {
  const flags = permissionFlags();
  assert.ok(!flags.some((f) => f === "-A" || f.startsWith("--allow-all")), flags.join(" "));
  assert.ok(flags.includes(`--allow-run=${shipped.run.join(",")}`));
  assert.ok(flags.includes(`--allow-env=${shipped.env.join(",")}`));
  assert.ok(flags.includes(`--allow-sys=${shipped.sys.join(",")}`));
  assert.ok(flags.includes("--no-prompt"));
  // Every kind the set grants appears exactly once; none it does not grant.
  const kinds = flags.filter((f) => f.startsWith("--allow-")).map((f) => f.slice(8).split("=")[0]);
  assert.deepEqual(kinds.toSorted(), Object.keys(shipped).toSorted());
});

Deno.test("an override narrows one kind and leaves the others as shipped", () => {
  const flags = permissionFlags(shippedPermissions(), { read: ["/a", "/b"], write: false });
  assert.ok(flags.includes("--allow-read=/a,/b"));
  assert.ok(!flags.some((f) => f.startsWith("--allow-write")));
  assert.ok(flags.includes(`--allow-run=${shipped.run.join(",")}`));
});

Deno.test("the shipped set closes system secrets and system directories; net is loopback only", () => {
  const flags = permissionFlags();
  const list = (prefix: string) =>
    flags.find((f) => f.startsWith(`${prefix}=`))?.slice(prefix.length + 1).split(",") ?? [];
  for (const path of ["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/munge"]) {
    assert.ok(list("--deny-read").includes(path), path);
  }
  for (const path of ["/usr", "/bin", "/boot", "/etc/sudoers.d", "/etc/ssh", "/var/log"]) {
    assert.ok(list("--deny-write").includes(path), path);
  }
  // What the node side writes stays open: its config, state and work directories.
  for (const path of ["/etc/sealbatch", "/var/lib/sealbatch", "/run/sealbatch", "/etc", "/var"]) {
    assert.ok(!list("--deny-write").some((d) => path === d || path.startsWith(`${d}/`)), path);
  }
  assert.deepEqual(list("--allow-net"), ["127.0.0.1", "localhost", "[::1]"]);
  assert.ok(!flags.includes("--allow-net"));
});

Deno.test("an override replaces what a kind allows and keeps what it denies", () => {
  const flags = permissionFlags(shippedPermissions(), { read: ["/work"], net: ["a.example:22"] });
  assert.ok(flags.includes("--allow-read=/work"));
  assert.ok(flags.some((f) => f.startsWith("--deny-read=/etc/shadow,")));
  assert.ok(flags.includes("--allow-net=a.example:22"));
});
