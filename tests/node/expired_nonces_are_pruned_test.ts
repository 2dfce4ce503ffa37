/**
 * The nonce store forgets a job only after its expiry (plus a day): replay
 * protection stays intact while the state directory stops growing forever.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import type { Manifest } from "../../src/job/manifest.ts";
import { claimNonce } from "../../src/node/nonce_store.ts";

const DAY = 86400_000;
const now = new Date("2026-06-01T12:00:00Z");

function manifest(nonce: string, notAfter: Date): Manifest {
  return {
    v: 1,
    job: `job-${nonce.slice(0, 4)}`,
    nonce,
    not_after: notAfter.toISOString(),
    user: "u",
    inputs: {},
  };
}

const nonce = (c: string) => c.repeat(32);

async function present(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/nonces`)) {
    if (!e.name.startsWith(".")) names.push(e.name);
  }
  return names.sort();
}

Deno.test("expired nonces are pruned; live, fresh-expired and unreadable records are kept", async () => {
  await using dir = await tempDir("sealbatch-nonces");
  const state = dir.path;
  await claimNonce(
    state,
    manifest(nonce("a"), new Date(now.getTime() - 3 * DAY)),
    new Date(now.getTime() - 4 * DAY),
  );
  // Expired an hour ago: within the day of grace, kept.
  await claimNonce(
    state,
    manifest(nonce("b"), new Date(now.getTime() - 3600_000)),
    new Date(now.getTime() - 2 * DAY),
  );
  await claimNonce(
    state,
    manifest(nonce("c"), new Date(now.getTime() + DAY)),
    new Date(now.getTime() - DAY),
  );
  await Deno.writeTextFile(`${state}/nonces/${nonce("d")}`, "not json");
  // The earlier claims ran their own passes at their own times; make this one due.
  await Deno.utime(
    `${state}/nonces/.pruned`,
    new Date(now.getTime() - 2 * 3600_000),
    new Date(now.getTime() - 2 * 3600_000),
  );

  await claimNonce(state, manifest(nonce("e"), new Date(now.getTime() + DAY)), now);
  assert.deepEqual(await present(state), [nonce("b"), nonce("c"), nonce("d"), nonce("e")]);

  // A live nonce is still refused.
  await assert.rejects(
    () => claimNonce(state, manifest(nonce("c"), new Date(now.getTime() + DAY)), now),
    /replay/,
  );
});

Deno.test("the nonce store scans at most once an hour", async () => {
  await using dir = await tempDir("sealbatch-nonces");
  const state = dir.path;
  await claimNonce(state, manifest(nonce("a"), new Date(now.getTime() + DAY)), now);
  // An expired record appears; the next claim within the hour does not look.
  await Deno.writeTextFile(
    `${state}/nonces/${nonce("b")}`,
    JSON.stringify({ not_after: "2020-01-01T00:00:00Z" }),
  );
  await claimNonce(
    state,
    manifest(nonce("c"), new Date(now.getTime() + DAY)),
    new Date(now.getTime() + 60_000),
  );
  assert.ok((await present(state)).includes(nonce("b")));
  await claimNonce(
    state,
    manifest(nonce("e"), new Date(now.getTime() + DAY)),
    new Date(now.getTime() + 2 * 3600_000),
  );
  assert.ok(!(await present(state)).includes(nonce("b")));
});
