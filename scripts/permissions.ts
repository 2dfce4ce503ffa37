/**
 * Prints the shipped permission flags (src/util/permissions.ts), one a line:
 *
 *   deno run scripts/permissions.ts
 */
import { permissionFlags } from "../src/util/permissions.ts";

if (import.meta.main) {
  console.log(permissionFlags().join("\n"));
}
