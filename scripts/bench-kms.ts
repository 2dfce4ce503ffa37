/**
 * Key-delivery latency against the development server, in one run:
 * escrow (2 keys: KV write + wrapped read each) plus the node-side fetch
 * (lookup + unwrap each) for 1 job, 100 jobs one after another, and 100 jobs
 * at once. The raw peer is curl sending the same HTTP requests with no
 * checks (one curl process for the escrow, one for the fetch, per job).
 *
 *   deno run -P=test scripts/bench-kms.ts
 */
import { startDevServer } from "../src/kms/dev_server.ts";
import { escrowJob } from "../src/kms/escrow.ts";
import { VaultClient } from "../src/kms/vault_client.ts";
import { unwrapCredentials } from "../src/node/fetch_keys.ts";

const server = await startDevServer({ hostname: "127.0.0.1", port: 0 });
const work = await Deno.makeTempDir({ prefix: "bench-kms-" });
for (const name of ["luks", "image"]) {
  await Deno.writeFile(`${work}/${name}.key`, crypto.getRandomValues(new Uint8Array(64)), {
    mode: 0o600,
  });
  await Deno.chmod(`${work}/${name}.key`, 0o600);
}
const client = await VaultClient.connect({ addr: server.addr }, server.rootToken);
const nodeClient = await VaultClient.connect({ addr: server.addr });
let seq = 0;

async function sealbatchJob(): Promise<void> {
  const job = `b${seq++}`;
  const { credentials } = await escrowJob(client, {
    job,
    user: "bench",
    keys: [{ name: "luks", file: `${work}/luks.key` }, {
      name: "image",
      file: `${work}/image.key`,
    }],
    mode: "job-scoped",
    wrapTtlMs: 3600_000,
    mount: "secret",
    stateDir: `${work}/state`,
  });
  const keys = await unwrapCredentials(nodeClient, credentials);
  if (keys.length !== 2) throw new Error("fetch failed");
}

async function curl(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", { args: ["-sS", ...args], stdout: "piped" }).output();
  if (!out.success) throw new Error("curl failed");
  return new TextDecoder().decode(out.stdout);
}

async function curlJob(): Promise<void> {
  const job = `c${seq++}`;
  const a = server.addr;
  const h = ["-H", `X-Vault-Token: ${server.rootToken}`];
  const args: string[] = [];
  for (const name of ["luks", "image"]) {
    const path = `${a}/v1/secret/data/sealbatch/bench/${job}/${name}`;
    if (args.length) args.push("--next");
    args.push(
      ...h,
      "-X",
      "POST",
      "-d",
      '{"data":{"key":"abc"},"options":{"cas":0}}',
      "-o",
      "/dev/null",
      path,
    );
    args.push("--next", ...h, "-H", "X-Vault-Wrap-TTL: 3600", path);
  }
  const tokens = [...(await curl(args)).matchAll(/"token":"([^"]+)"/g)].map((m) => m[1]!);
  const fetch: string[] = [];
  for (const t of tokens) {
    if (fetch.length) fetch.push("--next");
    fetch.push("-X", "POST", "-d", JSON.stringify({ token: t }), `${a}/v1/sys/wrapping/lookup`);
    fetch.push("--next", "-X", "POST", "-H", `X-Vault-Token: ${t}`, `${a}/v1/sys/wrapping/unwrap`);
  }
  const out = await curl(fetch);
  if ((out.match(/"key":"abc"/g) ?? []).length !== 2) throw new Error("curl fetch failed");
}

async function measure(run: () => Promise<void>, n: number, concurrent: boolean): Promise<number> {
  const t0 = performance.now();
  if (concurrent) await Promise.all(Array.from({ length: n }, run));
  else for (let i = 0; i < n; i++) await run();
  return performance.now() - t0;
}

await sealbatchJob(); // warm up both paths
await curlJob();
const rows: [string, number, boolean][] = [
  ["1 job", 1, false],
  ["100 jobs sequential", 100, false],
  [
    "100 jobs concurrent",
    100,
    true,
  ],
];
console.log("escrow + node fetch, 2 keys per job, dev server on loopback http");
console.log("case                   sealbatch total  per job   curl total  per job   ratio");
for (const [label, n, conc] of rows) {
  const s = await measure(sealbatchJob, n, conc);
  const c = await measure(curlJob, n, conc);
  console.log(
    `${label.padEnd(22)} ${s.toFixed(0).padStart(9)} ms ${(s / n).toFixed(1).padStart(7)} ms ` +
      `${c.toFixed(0).padStart(9)} ms ${(c / n).toFixed(1).padStart(7)} ms ${
        (s / c).toFixed(2).padStart(6)
      }x`,
  );
}
client.close();
nodeClient.close();
await server.shutdown();
await Deno.remove(work, { recursive: true });
