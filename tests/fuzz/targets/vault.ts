/**
 * The Vault client reading hostile answers: a fake fetch in this Worker
 * answers every request with the case's status line, headers and body, and
 * each client call that reads an answer's JSON runs against it.
 */
import { VaultClient } from "../../../src/kms/vault_client.ts";
import { SealbatchError } from "../../../src/util/errors.ts";
import { type FuzzTarget, utf8 } from "../_harness.ts";

const dec = new TextDecoder();
const TOKEN = "hvs.CAESIFuzzFuzzFuzzFuzzFuzzFuzz";

const WRAP = JSON.stringify({
  request_id: "1",
  lease_id: "",
  renewable: false,
  lease_duration: 0,
  data: null,
  wrap_info: {
    token: "hvs.wrappingtokenwrappingtoken",
    accessor: "acc1",
    ttl: 300,
    creation_time: "2026-12-04T10:00:00Z",
    creation_path: "secret/data/x",
    wrapped_accessor: "",
  },
  warnings: null,
  auth: null,
});

const SEEDS = [
  `200\n\n${JSON.stringify({ data: { data: { key: "c2VjcmV0" }, metadata: { version: 1 } } })}`,
  `200\ncontent-type: application/json\n\n${WRAP}`,
  `200\n\n${
    JSON.stringify({
      auth: {
        client_token: TOKEN,
        accessor: "acc2",
        policies: ["default", "job"],
        num_uses: 2,
        lease_duration: 3600,
      },
    })
  }`,
  `200\n\n${
    JSON.stringify({
      data: {
        creation_path: "secret/data/x",
        creation_time: "2026-12-04T10:00:00Z",
        creation_ttl: 300,
        keys: ["a", "b/"],
      },
    })
  }`,
  `400\n\n${JSON.stringify({ errors: ["wrapping token is not valid or does not exist"] })}`,
  `403\n\n${JSON.stringify({ errors: ["1 error occurred:\n\t* permission denied\n\n"] })}`,
  `404\n\n{"errors":[]}`,
  `503\n\n{"errors":["Vault is sealed"]}`,
  `204\n\n`,
  `200\ncontent-length: 99999999999\n\n{}`,
];

const TOKENS = [
  "null",
  "[]",
  "{}",
  '""',
  "-1",
  "1e999",
  '{"toString":1,"valueOf":1}',
  '[{"toString":1,"valueOf":1}]',
  '"__proto__"',
  '"errors":[{"toString":1}],',
  '"data":null,',
  '"wrap_info":[],',
  '"auth":"x",',
  '"token":"has space",',
  '"client_token":"' + "t".repeat(2000) + '",',
  "\\u0000",
  "\\ud800",
];

/** "STATUS\nheader: value\n...\n\nBODY" -> a Response; an odd status line is 200. */
function answer(text: string): Response {
  const nl = text.indexOf("\n");
  const code = Number(text.slice(0, nl < 0 ? text.length : nl));
  const status = Number.isInteger(code) && code >= 200 && code <= 599 ? code : 200;
  const rest = nl < 0 ? "" : text.slice(nl + 1);
  const split = rest.indexOf("\n\n");
  const headers = new Headers();
  for (const line of (split < 0 ? "" : rest.slice(0, split)).split("\n")) {
    const colon = line.indexOf(":");
    try {
      if (colon > 0) headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      // A header name or value Headers refuses is left out of the fake answer.
    }
  }
  const body = split < 0 ? rest : rest.slice(split + 2);
  const nullBody = status === 204 || status === 205 || status === 304;
  return new Response(nullBody ? null : body, { status, headers });
}

export async function makeTarget(name: string): Promise<FuzzTarget> {
  let current = "";
  globalThis.fetch = (() => Promise.resolve(answer(current))) as typeof fetch;
  const client = await VaultClient.connect({
    addr: "http://127.0.0.1:8200",
    retries: 0,
    timeoutMs: 1000,
    backoffMs: 0,
  }, TOKEN);
  const wrapping = "hvs.wrappingtokenwrappingtoken";
  const calls: (() => Promise<unknown>)[] = [
    () => client.kvRead("secret", "jobs/j/key"),
    () => client.kvReadWrapped("secret", "jobs/j/key", 300),
    () => client.kvWrite("secret", "jobs/j/key", { key: "x" }, { cas: 0 }),
    () => client.kvList("secret", "jobs/"),
    () => client.tokenCreate({ policies: ["job"], num_uses: 2 }),
    () => client.tokenCreateWrapped({ policies: ["job"] }, 300),
    () => client.lookupSelf(),
    () => client.wrapLookup(wrapping),
    () => client.unwrap(wrapping),
    () => client.rewrap(wrapping),
    () => client.wrap({ a: 1 }, 300),
    () => client.revokeAccessor("acc1"),
    () => client.health(),
  ];
  return {
    name,
    seeds: SEEDS.map(utf8),
    tokens: TOKENS,
    maxBytes: 64 * 1024,
    exitCodes: [3, 7],
    async run(input) {
      current = dec.decode(input);
      // One answer cannot suit every call: the case succeeds when one call took it.
      let first: SealbatchError | undefined;
      let succeeded = false;
      for (const call of calls) {
        try {
          await call();
          succeeded = true;
        } catch (err) {
          if (!(err instanceof SealbatchError)) throw err;
          first ??= err;
        }
      }
      if (first && !succeeded) throw first;
    },
  };
}
