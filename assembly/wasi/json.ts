// The replay's report as JSON.stringify(value, null, 2) prints it: numbers with the standard
// library's dtoa (shortest round-trip digits), integers without a fraction, as JavaScript does.
import { ESCAPES } from "../sim/json";

/** A number as JSON: null for NaN and infinities, integers without ".0" (as JSON.stringify). */
function jsonNumber(x: f64): string {
  if (!isFinite(x)) return "null";
  if (x == Math.floor(x) && Math.abs(x) < 9007199254740992.0) return (<i64>x).toString(); // -0 too
  return x.toString();
}

function jsonString(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const k = c == 0x2f ? -1 : ESCAPES.lastIndexOf(s.charAt(i));
    if (k > 0 && k % 2 == 1) out += "\\" + ESCAPES.charAt(k - 1);
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += s.charAt(i);
  }
  return out + "\"";
}

/** Builds a JSON document with JSON.stringify(value, null, 2)'s layout. */
export class JsonWriter {
  out: string = "";
  private first: bool[] = [true];

  private item(key: string | null): void {
    const depth = this.first.length - 1;
    if (depth > 0) {
      this.out += (this.first[depth] ? "\n" : ",\n") + "  ".repeat(depth);
      this.first[depth] = false;
    }
    if (key !== null) this.out += jsonString(key) + ": ";
  }

  open(key: string | null, bracket: string): void {
    this.item(key);
    this.out += bracket;
    this.first.push(true);
  }

  close(bracket: string): void {
    if (!this.first.pop()) this.out += "\n" + "  ".repeat(this.first.length - 1);
    this.out += bracket;
  }

  num(key: string | null, x: f64): void {
    this.item(key);
    this.out += jsonNumber(x);
  }

  nul(key: string | null): void {
    this.item(key);
    this.out += "null";
  }
}
