/** sealbatch entry point. The shim must stay the first import (see its comment). */
import "./src/runtime_shims.ts";
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
