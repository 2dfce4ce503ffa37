/** sealbatch entry point. The shim must stay the first import (see its comment). */
import "./src/runtime_shims.ts";
import { main } from "./src/cli/main.ts";
import { argsForInvocation } from "./src/node/invoked_as.ts";

if (import.meta.main) {
  Deno.exit(await main(argsForInvocation(Deno.args)));
}
