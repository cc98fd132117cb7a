// A small JSON reader for the mask trace header (docs/trace-format.md) and a writer for the
// replay's report. Numbers are read with the standard library's strtod and written with its dtoa
// (shortest round-trip digits), integers without a fraction as JavaScript's JSON.stringify does.

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
  items: JsonValue[] = [];
  keys: string[] = [];
  values: JsonValue[] = [];
  constructor(public kind: i32) {}

  /** The member `key` of an object, or null. */
  get(key: string): JsonValue | null {
    if (this.kind != J_OBJECT) return null;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.values[i];
    return null;
  }
}

class Parser {
  pos: i32 = 0;
  error: string = "";
  constructor(public s: string) {}

  fail(msg: string): JsonValue | null {
    if (this.error.length == 0) this.error = msg + " at character " + this.pos.toString();
    return null;
  }

  skip(): void {
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  value(depth: i32): JsonValue | null {
    if (depth > 64) return this.fail("nested too deeply");
    this.skip();
    if (this.pos >= this.s.length) return this.fail("unexpected end");
    const c = this.s.charCodeAt(this.pos);
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const text = this.string();
      if (text === null) return null;
      const v = new JsonValue(J_STRING);
      v.str = text;
      return v;
    }
    if (this.s.startsWith("true", this.pos)) { this.pos += 4; const v = new JsonValue(J_BOOL); v.flag = true; return v; }
    if (this.s.startsWith("false", this.pos)) { this.pos += 5; return new JsonValue(J_BOOL); }
    if (this.s.startsWith("null", this.pos)) { this.pos += 4; return new JsonValue(J_NULL); }
    return this.number();
  }

  number(): JsonValue | null {
    const start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      const numeric = (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45;
      if (!numeric) break;
      this.pos++;
    }
    if (this.pos == start) return this.fail("unexpected character");
    const n = parseFloat(this.s.substring(start, this.pos));
    if (isNaN(n)) return this.fail("bad number");
    const v = new JsonValue(J_NUMBER);
    v.num = n;
    return v;
  }

  string(): string | null {
    this.pos++; // opening quote
    let out = "";
    let run = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c == 0x22) {
        out += this.s.substring(run, this.pos);
        this.pos++;
        return out;
      }
      if (c == 0x5c) {
        out += this.s.substring(run, this.pos);
        if (this.pos + 1 >= this.s.length) break;
        const e = this.s.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          if (this.pos + 4 > this.s.length) break;
          const code = I32.parseInt(this.s.substring(this.pos, this.pos + 4), 16);
          out += String.fromCharCode(code);
          this.pos += 4;
        } else out += String.fromCharCode(e); // \" \\ \/
        run = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string");
    return null;
  }

  array(depth: i32): JsonValue | null {
    this.pos++;
    const v = new JsonValue(J_ARRAY);
    this.skip();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x5d) { this.pos++; return v; }
    while (true) {
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skip();
      if (this.pos >= this.s.length) return this.fail("unterminated array");
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x5d) return v;
      if (c != 0x2c) return this.fail("expected , or ]");
    }
  }

  object(depth: i32): JsonValue | null {
    this.pos++;
    const v = new JsonValue(J_OBJECT);
    this.skip();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x7d) { this.pos++; return v; }
    while (true) {
      this.skip();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x22) return this.fail("expected a key");
      const key = this.string();
      if (key === null) return null;
      this.skip();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x3a) return this.fail("expected :");
      this.pos++;
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.values.push(item);
      this.skip();
      if (this.pos >= this.s.length) return this.fail("unterminated object");
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x7d) return v;
      if (c != 0x2c) return this.fail("expected , or }");
    }
  }
}

/** Parses `text`; on failure returns null and sets `parseError`. */
export let parseError: string = "";
export function parseJson(text: string): JsonValue | null {
  const p = new Parser(text);
  const v = p.value(0);
  if (v !== null) {
    p.skip();
    if (p.pos != text.length) {
      p.fail("unexpected text after the value");
      parseError = p.error;
      return null;
    }
  }
  parseError = p.error;
  return v;
}

// ---- writing ----

/** A number as JSON: null for NaN and infinities, integers without ".0" (as JSON.stringify). */
export function jsonNumber(x: f64): string {
  if (!isFinite(x)) return "null";
  if (x == Math.floor(x) && Math.abs(x) < 9007199254740992.0) {
    if (x == 0 && 1 / x < 0) return "0"; // JSON.stringify(-0) is "0"
    return (<i64>x).toString();
  }
  return x.toString();
}

export function jsonString(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

/** Builds a JSON document with JSON.stringify(value, null, 2)'s layout. */
export class JsonWriter {
  out: string = "";
  private depth: i32 = 0;
  private first: bool[] = [true];

  private item(key: string | null): void {
    const n = this.first.length - 1;
    if (this.depth > 0) {
      this.out += this.first[n] ? "\n" : ",\n";
      this.first[n] = false;
      this.out += "  ".repeat(this.depth);
    }
    if (key !== null) this.out += jsonString(key) + ": ";
  }

  open(key: string | null, bracket: string): void {
    this.item(key);
    this.out += bracket;
    this.depth++;
    this.first.push(true);
  }

  close(bracket: string): void {
    const empty = this.first.pop();
    this.depth--;
    if (!empty) this.out += "\n" + "  ".repeat(this.depth);
    this.out += bracket;
  }

  num(key: string | null, x: f64): void {
    this.item(key);
    this.out += jsonNumber(x);
  }

  str(key: string | null, s: string): void {
    this.item(key);
    this.out += jsonString(s);
  }

  nul(key: string | null): void {
    this.item(key);
    this.out += "null";
  }

  numbers(key: string | null, xs: f64[]): void {
    this.open(key, "[");
    for (let i = 0; i < xs.length; i++) this.num(null, xs[i]);
    this.close("]");
  }
}
