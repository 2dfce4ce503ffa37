/**
 * The only module that touches the YAML library. Parsing and validation
 * errors name the file, line and column, and say what was expected.
 */
import { isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument } from "yaml";
import { closest } from "../util/suggest.ts";
import type { Document, Node } from "yaml";
import { inputError, q, type SealbatchError } from "../util/errors.ts";
import { readTextCapped } from "../util/files.ts";

/**
 * Profiles and specs are a few KiB. The YAML library spends ~10 µs per line
 * of garbage (an error object per line), so size and lines are capped to
 * keep the worst parse far below a second.
 */
const MAX_YAML_BYTES = 64 * 1024;
const MAX_YAML_LINES = 4000;
/** The YAML parser recurses once per level; far deeper than any profile, far below the stack. */
const MAX_DEPTH = 128;
/** Nodes the document may stand for with its aliases expanded ("billion laughs" bound). */
const MAX_EXPANDED_NODES = 10_000;
/** Lexer tokens that mark structure and are not in the source text. */
const CONTROL_TOKENS = new Set(["\x02", "\x18", "\x1f"]);

/**
 * Refuse nesting deeper than MAX_DEPTH before parsing: flow brackets plus,
 * per line, indentation and the block indicators ("- - - x" nests too).
 */
function checkDepth(path: string, text: string): void {
  let flow = 0;
  let line = 1;
  let lineDepth = 0;
  let scalarNext = false;
  let lineStart = true;
  for (const token of new Lexer().lex(text)) {
    if (CONTROL_TOKENS.has(token)) {
      scalarNext = token === "\x1f";
      continue;
    }
    if (scalarNext) {
      scalarNext = false;
    } else if (token === "{" || token === "[") flow++;
    else if (token === "}" || token === "]") flow = Math.max(0, flow - 1);
    else if (token === "-" || token === "?" || token === ":") lineDepth++;
    else if (lineStart && /^[ \t]+$/.test(token)) lineDepth += token.length;
    lineStart = token.endsWith("\n");
    if (flow + lineDepth > MAX_DEPTH) {
      throw inputError(
        `${path}:${line}: invalid YAML: nested more than ${MAX_DEPTH} levels deep`,
      );
    }
    for (const c of token) if (c === "\n") line++;
    if (lineStart) lineDepth = 0;
  }
}

/**
 * No mapping may repeat a key (checked here with a set per mapping: the
 * library's uniqueKeys compares every pair: 8 s for a mapping of 40k
 * keys). Every alias must name an earlier anchor, and the document with its
 * aliases expanded must stay small: what an alias bomb multiplies is refused
 * here, with its position, instead of inside the YAML library.
 */
function checkNodes(path: string, doc: Document.Parsed, lines: LineCounter): void {
  const sizes = new Map<unknown, number>();
  const at = (node: Node) => {
    const pos = lines.linePos(node.range?.[0] ?? 0);
    return `${path}:${pos.line}:${pos.col}`;
  };
  const size = (node: unknown): number => {
    if (node === null || node === undefined) return 0;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      const n = target === undefined ? undefined : sizes.get(target);
      if (n === undefined) {
        throw inputError(
          `${at(node)}: invalid YAML: alias ${q(`*${node.source}`)} names no earlier anchor`,
        );
      }
      return n;
    }
    let n = 1;
    if (isMap(node)) {
      const keys = new Set<unknown>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          if (keys.has(pair.key.value)) {
            throw inputError(
              `${at(pair.key)}: invalid YAML: map keys must be unique (${
                q(pair.key.value)
              } repeats)`,
            );
          }
          keys.add(pair.key.value);
        }
        n += size(pair.key) + size(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) n += size(item);
    }
    if (n > MAX_EXPANDED_NODES) {
      throw inputError(
        `${
          at(node as Node)
        }: invalid YAML: more than ${MAX_EXPANDED_NODES} values with its aliases expanded`,
        { hint: "aliases that repeat aliases multiply; write the values out" },
      );
    }
    sizes.set(node, n);
    return n;
  };
  size(doc.contents);
}

/** A parsed YAML file whose values can be read with positions for errors. */
export class YamlFile {
  readonly #doc: Document.Parsed;
  readonly #lines: LineCounter;
  readonly path: string;

  private constructor(path: string, doc: Document.Parsed, lines: LineCounter) {
    this.path = path;
    this.#doc = doc;
    this.#lines = lines;
  }

  static parse(path: string, text: string): YamlFile {
    let lineCount = 1;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
      if (++lineCount > MAX_YAML_LINES) {
        throw inputError(`${path}: invalid YAML: more than ${MAX_YAML_LINES} lines`);
      }
    }
    checkDepth(path, text);
    const lines = new LineCounter();
    const doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: false,
      // A collection used as a key is stringified (and refused as an unknown key), not warned about.
      logLevel: "error",
    });
    const first = doc.errors[0];
    if (first) {
      const pos = lines.linePos(first.pos[0]);
      // The library quotes the offending token, which may be most of the file or hold a CR.
      // deno-lint-ignore no-control-regex
      const line = (first.message.split(/[\r\n]/)[0] ?? "").replace(/[\x00-\x1f\x7f]/g, "?");
      const msg = line.length > 200 ? `${line.slice(0, 200)}...` : line || "syntax error";
      throw inputError(`${path}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
    }
    checkNodes(path, doc, lines);
    return new YamlFile(path, doc, lines);
  }

  static async read(path: string): Promise<YamlFile> {
    return YamlFile.parse(path, await readTextCapped(path, MAX_YAML_BYTES, "YAML file"));
  }

  /** "file:line:col" of the node at `keys` (or of its closest existing parent). */
  where(keys: (string | number)[], at: "key" | "value" = "value"): string {
    let node: unknown = this.#doc.contents;
    let found: unknown = node;
    for (const key of keys) {
      if (isMap(node) || isSeq(node)) {
        const pair = isMap(node)
          ? node.items.find((p) => isScalar(p.key) && p.key.value === key)
          : undefined;
        const next = isMap(node) ? pair?.value : node.get(key as number, true);
        if (
          next === undefined || next === null || (at === "key" && key === keys[keys.length - 1])
        ) {
          if (pair && isScalar(pair.key)) found = pair.key;
          break;
        }
        node = next;
        found = next;
      } else break;
    }
    const range = (found as Node | null)?.range;
    const pos = this.#lines.linePos(range ? range[0] : 0);
    return `${this.path}:${pos.line}:${pos.col}`;
  }

  /** The document as plain JavaScript values. */
  toJS(): unknown {
    // checkNodes bounded the expansion already; the library's own count would throw.
    return this.#doc.toJS({ maxAliasCount: -1 });
  }

  /** Start validating the document's top-level mapping. */
  root(): Fields {
    const value = this.toJS() ?? {};
    return new Fields(this, [], value);
  }
}

/** Typed, positioned access to one mapping in a YAML file. */
export class Fields {
  constructor(
    private readonly file: YamlFile,
    private readonly at: (string | number)[],
    private readonly value: unknown,
  ) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw inputError(`${file.where(at)}: expected a mapping of keys to values`);
    }
  }

  #get(key: string): unknown {
    return (this.value as Record<string, unknown>)[key];
  }

  #fail(key: string, expected: string, got?: unknown): never {
    const shown = got === undefined
      ? ""
      : `, got ${q(typeof got === "object" ? JSON.stringify(got) : got)}`;
    throw this.error(key, `${this.path(key)}: expected ${expected}${shown}`);
  }

  /** An input error positioned at `key` of this mapping. */
  error(key: string, message: string, hint?: string): SealbatchError {
    return inputError(
      `${this.file.where([...this.at, key])}: ${message}`,
      hint === undefined ? {} : { hint },
    );
  }

  path(key: string): string {
    return [...this.at, key].join(".");
  }

  /** Reject keys this schema does not know (typos are errors, not silence). */
  only(keys: string[]): this {
    for (const key of Object.keys(this.value as object)) {
      if (!keys.includes(key)) {
        const near = closest(key, keys);
        throw inputError(
          `${this.file.where([...this.at, key], "key")}: unknown key ${q(this.path(key))}${
            near ? `; did you mean ${q(near)}?` : ""
          }`,
          {
            hint: `known keys here: ${keys.join(", ")}`,
          },
        );
      }
    }
    return this;
  }

  string(key: string): string | undefined;
  string(key: string, required: true): string;
  string(key: string, required = false): string | undefined {
    const v = this.#get(key);
    if (v === undefined || v === null) return required ? this.#fail(key, "a string") : undefined;
    if (typeof v !== "string" || v === "") this.#fail(key, "a non-empty string", v);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.#get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") this.#fail(key, "true or false", v);
    return v;
  }

  number(key: string, min = 0): number | undefined {
    const v = this.#get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
      this.#fail(key, `a number >= ${min}`, v);
    }
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const v = this.string(key);
    if (v === undefined) return undefined;
    if (!(choices as readonly string[]).includes(v)) {
      this.#fail(key, `one of ${choices.join(", ")}`, v);
    }
    return v as T;
  }

  strings(key: string): string[] | undefined {
    const v = this.#get(key);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
      this.#fail(key, "a list of strings", v);
    }
    return v as string[];
  }

  map(key: string): Fields | undefined {
    const v = this.#get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) this.#fail(key, "a mapping", v);
    return new Fields(this.file, [...this.at, key], v);
  }
}
