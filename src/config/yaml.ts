/**
 * The only module that touches the YAML library. Parsing and validation
 * errors name the file, line and column, and say what was expected.
 */
import { closest } from "../util/suggest.ts";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import { inputError, q, type SealbatchError } from "../util/errors.ts";
import { readTextCapped } from "../util/files.ts";

const MAX_YAML_BYTES = 1024 * 1024;

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
    const lines = new LineCounter();
    // Aliases are bounded so a "billion laughs" document cannot blow up memory.
    const doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: true,
    });
    const first = doc.errors[0];
    if (first) {
      const pos = lines.linePos(first.pos[0]);
      const msg = first.message.split("\n")[0] ?? "syntax error";
      throw inputError(`${path}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
    }
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
    return this.#doc.toJS({ maxAliasCount: 100 });
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
