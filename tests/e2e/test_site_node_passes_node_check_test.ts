/**
 * The test site's node is set up as docs/admin.md tells an admin (scripts/test-site.sh), and its
 * installed sealbatch says so: `node check`, run as root through the installed copy, passes every
 * check, on a tmpfs work directory and with the sudo rule for the site's job user.
 */
import assert from "node:assert/strict";
import { SITE_SKIP, siteEnv } from "../remote/_site.ts";

Deno.test({
  name: "the test site's node passes node check, run as root with the installed sealbatch",
  ignore: SITE_SKIP !== false,
  async fn() {
    const env = await siteEnv();
    const out = await new Deno.Command(`${env.SITE_DIR}/lib/sealbatch-node`, {
      args: ["node", "check", "--user", env.SITE_USER!],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
    assert.match(text, new RegExp(`^ok +node config: ${env.SITE_NODE_CONFIG} is valid$`, "m"));
    assert.match(text, new RegExp(`^ok +work directory: ${env.SITE_WORK_DIR}: tmpfs, `, "m"));
    assert.match(text, new RegExp(`^ok +sudo rule: ${env.SITE_USER} may run `, "m"));
    assert.match(text, /^ok +several nodes: srun found: jobs of several nodes can start$/m);
    assert.doesNotMatch(text, /^FAIL/m);
  },
});
