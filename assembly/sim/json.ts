// A small JSON reader for the mask trace header (docs/trace-format.md, read by trace.ts). Numbers
// are read with the standard library's strtod.

export const J_NULL: i32 = 0;
export const J_BOOL: i32 = 1;
export const J_NUMBER: i32 = 2;
export const J_STRING: i32 = 3;
export const J_ARRAY: i32 = 4;
export const J_OBJECT: i32 = 5;

export class JsonValue {
  num: f64 = 0;
  str: string = "";
  flag: bool = false;
  /** array items, or object values beside `keys` */
  items: JsonValue[] = [];
  keys: string[] = [];
  constructor(public kind: i32) {}

  /** The member `key` of an object, or null. */
  get(key: string): JsonValue | null {
    const i = this.kind == J_OBJECT ? this.keys.indexOf(key) : -1;
    return i < 0 ? null : this.items[i];
  }
}

export const ESCAPES = "\"\"\\\\//b\bf\fn\nr\rt\t"; // pairs: escape letter, character

class Parser {
  pos: i32 = 0;
  error: string = "";
  constructor(public s: string) {}

  fail(msg: string): JsonValue | null {
    if (this.error.length == 0) this.error = msg + " at character " + this.pos.toString();
    return null;
  }

  /** The next non-blank character's code (-1 at the end), not consumed. */
  peek(): i32 {
    while (this.pos < this.s.length && " \t\n\r".includes(this.s.charAt(this.pos))) this.pos++;
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  word(w: string, v: JsonValue): JsonValue {
    this.pos += w.length;
    return v;
  }

  value(depth: i32): JsonValue | null {
    if (depth > 64) return this.fail("nested too deeply");
    const c = this.peek();
    if (c < 0) return this.fail("unexpected end");
    if (c == 0x7b || c == 0x5b) return this.list(depth, c == 0x7b);
    if (c == 0x22) {
      const v = new JsonValue(J_STRING);
      const text = this.string();
      if (text === null) return null;
      v.str = text;
      return v;
    }
    const t = new JsonValue(J_BOOL);
    t.flag = true;
    if (this.s.startsWith("true", this.pos)) return this.word("true", t);
    if (this.s.startsWith("false", this.pos)) return this.word("false", new JsonValue(J_BOOL));
    if (this.s.startsWith("null", this.pos)) return this.word("null", new JsonValue(J_NULL));
    const start = this.pos;
    while (this.pos < this.s.length && "0123456789+-.eE".includes(this.s.charAt(this.pos))) this.pos++;
    if (this.pos == start) return this.fail("unexpected character");
    const v = new JsonValue(J_NUMBER);
    v.num = parseFloat(this.s.substring(start, this.pos));
    return isNaN(v.num) ? this.fail("bad number") : v;
  }

  string(): string | null {
    let out = "";
    for (let i = ++this.pos; i < this.s.length; i = ++this.pos) {
      const c = this.s.charAt(i);
      if (c == "\"") { this.pos++; return out; }
      if (c != "\\") { out += c; continue; }
      const e = this.s.charAt(i + 1);
      this.pos++;
      if (e == "u" && i + 6 <= this.s.length) {
        out += String.fromCharCode(I32.parseInt(this.s.substring(i + 2, i + 6), 16));
        this.pos += 4;
        continue;
      }
      const k = ESCAPES.indexOf(e);
      if (e.length == 0 || k < 0 || k % 2 != 0) break;
      out += ESCAPES.charAt(k + 1);
    }
    this.fail("unterminated string");
    return null;
  }

  list(depth: i32, isObject: bool): JsonValue | null {
    this.pos++;
    const v = new JsonValue(isObject ? J_OBJECT : J_ARRAY);
    const close: i32 = isObject ? 0x7d : 0x5d;
    if (this.peek() == close) { this.pos++; return v; }
    while (true) {
      if (isObject) {
        if (this.peek() != 0x22) return this.fail("expected a key");
        const key = this.string();
        if (key === null) return null;
        if (this.peek() != 0x3a) return this.fail("expected :");
        this.pos++;
        v.keys.push(key);
      }
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      const c = this.peek();
      this.pos++;
      if (c == close) return v;
      if (c != 0x2c) return this.fail(c < 0 ? "unterminated " + (isObject ? "object" : "array") : "expected , or " + String.fromCharCode(close));
    }
  }
}

/** Parses `text`; on failure returns null and sets `parseError`. */
export let parseError: string = "";
export function parseJson(text: string): JsonValue | null {
  const p = new Parser(text);
  let v = p.value(0);
  if (v !== null && p.peek() >= 0) v = p.fail("unexpected text after the value");
  parseError = p.error;
  return v;
}
