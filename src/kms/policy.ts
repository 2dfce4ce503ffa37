/**
 * Vault ACL policies for the development server: the HCL subset Vault
 * documents for path stanzas (or the JSON form), and Vault's matching rules
 * (`*` as a trailing prefix glob, `+` for one segment, most specific path
 * wins, `deny` beats everything).
 */

export type Capability =
  | "create"
  | "read"
  | "update"
  | "patch"
  | "delete"
  | "list"
  | "sudo"
  | "deny";

const CAPABILITIES: readonly Capability[] = [
  "create",
  "read",
  "update",
  "patch",
  "delete",
  "list",
  "sudo",
  "deny",
];

export interface PathRule {
  pattern: string;
  capabilities: Set<Capability>;
}

export class PolicyError extends Error {}

type Token = { kind: "str" | "word" | "punct"; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c) || c === ",") {
      i++;
    } else if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new PolicyError("unterminated comment");
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let out = "";
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\" && j + 1 < text.length) j++;
        out += text[j];
        j++;
      }
      if (j >= text.length) throw new PolicyError("unterminated string");
      tokens.push({ kind: "str", text: out });
      i = j + 1;
    } else if ("{}[]=:".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_.-]/.test(text[j]!)) j++;
      if (j === i) throw new PolicyError(`unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: "word", text: text.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/** Parse the HCL subset: `path "p" { capabilities = [...]  other = value }`. */
function parseHcl(text: string): PathRule[] {
  const t = tokenize(text);
  let i = 0;
  const next = (): Token => {
    const tok = t[i++];
    if (!tok) throw new PolicyError("unexpected end of policy");
    return tok;
  };
  const expect = (text: string) => {
    const tok = next();
    if (tok.text !== text || tok.kind === "str") {
      throw new PolicyError(`expected ${JSON.stringify(text)}, got ${JSON.stringify(tok.text)}`);
    }
  };
  const skipValue = () => {
    const tok = next();
    if (tok.text === "[" && tok.kind === "punct") {
      while (next().text !== "]");
    } else if (tok.text === "{" && tok.kind === "punct") {
      let depth = 1;
      while (depth > 0) {
        const n = next();
        if (n.kind === "punct" && n.text === "{") depth++;
        if (n.kind === "punct" && n.text === "}") depth--;
      }
    }
  };
  const rules: PathRule[] = [];
  while (i < t.length) {
    const head = next();
    if (head.kind !== "word" || head.text !== "path") {
      throw new PolicyError(`expected "path", got ${JSON.stringify(head.text)}`);
    }
    const pattern = next();
    if (pattern.kind !== "str") throw new PolicyError('expected a quoted path after "path"');
    expect("{");
    const caps = new Set<Capability>();
    for (;;) {
      const key = next();
      if (key.kind === "punct" && key.text === "}") break;
      const eq = next();
      if (eq.text !== "=" && eq.text !== ":") {
        throw new PolicyError(`expected "=" after ${key.text}`);
      }
      if (key.text === "capabilities") {
        expect("[");
        for (;;) {
          const v = next();
          if (v.kind === "punct" && v.text === "]") break;
          caps.add(capability(v.text));
        }
      } else {
        skipValue();
      }
    }
    rules.push({ pattern: pattern.text, capabilities: caps });
  }
  return rules;
}

function capability(text: string): Capability {
  if (!(CAPABILITIES as readonly string[]).includes(text)) {
    throw new PolicyError(`unknown capability ${JSON.stringify(text)}`);
  }
  return text as Capability;
}

/** Parse a policy document in HCL or JSON (`{"path": {"p": {"capabilities": [...]}}}`). */
export function parsePolicy(text: string): PathRule[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      throw new PolicyError("invalid JSON policy");
    }
    const paths = (doc as { path?: unknown }).path;
    if (typeof paths !== "object" || paths === null) throw new PolicyError('no "path" object');
    return Object.entries(paths).map(([pattern, stanza]) => {
      const caps = (stanza as { capabilities?: unknown }).capabilities;
      if (!Array.isArray(caps)) throw new PolicyError(`no capabilities for ${pattern}`);
      return { pattern, capabilities: new Set(caps.map((c) => capability(String(c)))) };
    });
  }
  return parseHcl(text);
}

function matches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith("*");
  const body = glob ? pattern.slice(0, -1) : pattern;
  const pSegs = body.split("/");
  const segs = path.split("/");
  if (!glob && pSegs.length !== segs.length) return false;
  if (glob && segs.length < pSegs.length) return false;
  for (let k = 0; k < pSegs.length; k++) {
    const p = pSegs[k]!;
    const s = segs[k]!;
    const last = k === pSegs.length - 1;
    if (p === "+") continue;
    if (last && glob) {
      // The glob continues the last segment (and everything after it).
      if (!segs.slice(k).join("/").startsWith(p)) return false;
      return true;
    }
    if (p !== s) return false;
  }
  return true;
}

/** Vault's priority order, simplified: no glob beats glob, fewer `+` wins, longer wins. */
function specificity(pattern: string): [number, number, number] {
  const glob = pattern.endsWith("*") ? 0 : 1;
  const plus = -pattern.split("/").filter((s) => s === "+").length;
  return [glob, plus, pattern.length];
}

function moreSpecific(a: string, b: string): boolean {
  const sa = specificity(a);
  const sb = specificity(b);
  for (let k = 0; k < 3; k++) {
    if (sa[k]! !== sb[k]!) return sa[k]! > sb[k]!;
  }
  return false;
}

/** The capabilities a set of rules grants on `path` (empty when none matches). */
export function capabilitiesFor(rules: PathRule[], path: string): Set<Capability> {
  let best: string | undefined;
  for (const rule of rules) {
    if (matches(rule.pattern, path) && (best === undefined || moreSpecific(rule.pattern, best))) {
      best = rule.pattern;
    }
  }
  if (best === undefined) return new Set();
  const caps = new Set<Capability>();
  // Identical patterns from several policies are merged, as Vault does.
  for (const rule of rules) {
    if (rule.pattern === best) { for (const c of rule.capabilities) caps.add(c); }
  }
  return caps.has("deny") ? new Set(["deny"]) : caps;
}

/** The shipped `default` policy, reduced to the endpoints the development server has. */
export const DEFAULT_POLICY = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/unwrap" { capabilities = ["update"] }
path "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }
`;
