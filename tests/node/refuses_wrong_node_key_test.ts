import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";

Deno.test("a job encrypted to another node's key is refused", async () => {
  await using f = await fixture();
  const other = await writeKeyPair({
    kind: "node",
    name: "other-node",
    email: "o@example.org",
    outDir: `${f.dir}/other`,
  });
  const job = await seal(f, "job", { nodeKey: other.publicKey });
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(
    f,
    res,
    /cannot decrypt the job message: it is encrypted to [0-9a-f]{16}, not to this key/,
  );
});
