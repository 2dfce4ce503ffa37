import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { assertRefused, fixture, runNode, seal } from "./_fixture.ts";

Deno.test("a run.sh signed by a key that is not the job user's registered key is refused", async () => {
  await using f = await fixture();
  const other = await writeKeyPair({
    kind: "user",
    name: "mallory",
    email: "m@example.org",
    outDir: `${f.dir}/mallory`,
  });
  const job = await seal(f, "job", { signKey: other.secretKey });
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(
    f,
    res,
    /bad signature: signed by key [0-9a-f]{16}, not by the registered key/,
  );
});

Deno.test("a job user without a registered key is refused", async () => {
  await using f = await fixture();
  const job = await seal(f);
  await Deno.remove(`${f.signers}/${f.user}.asc`);
  const res = await runNode(f, { script: job.runScript });
  await assertRefused(f, res, /no signing key is registered for/);
});
