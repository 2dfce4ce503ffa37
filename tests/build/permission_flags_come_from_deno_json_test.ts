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
