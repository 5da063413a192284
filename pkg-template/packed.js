// Packs executeMany()'s positional parameter lists into one byte buffer, which the wasm side binds
// from directly (layout and reasons: src/db/packed.rs): one JS/wasm crossing for all the values
// instead of a few per value (~40 ms saved on 100,000 rows). Anything the layout does
// not cover (named parameters, unsupported values, a BigInt outside 64 bits) gives null, and the
// caller takes the value-by-value path, which also reports such values as errors.

const NULL = 0;
const INTEGER_F64 = 1;
const REAL = 2;
const TEXT = 3;
const BLOB = 4;
const INTEGER_I64 = 5;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const encoder = new TextEncoder();

/**
 * @param {unknown} paramLists
 * @returns {Uint8Array | null}
 */
export function packParamLists(paramLists) {
  if (!Array.isArray(paramLists)) return null;
  const out = new Writer(paramLists.length * 48 + 64);
  out.u32(paramLists.length);
  for (const list of paramLists) {
    if (!Array.isArray(list)) return null;
    out.u32(list.length);
    for (const value of list) {
      if (!out.value(value)) return null;
    }
  }
  return out.bytes.subarray(0, out.at);
}

class Writer {
  constructor(capacity) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.at = 0;
  }

  /** Writes one value; false when the layout has no place for it. */
  value(value) {
    switch (typeof value) {
      case "number":
        this.room(9);
        // The same rule as the value-by-value path: an integral number within 2^53 is an INTEGER.
        this.bytes[this.at] = Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? INTEGER_F64 : REAL;
        this.view.setFloat64(this.at + 1, value, true);
        this.at += 9;
        return true;
      case "string":
        return this.text(value);
      case "boolean":
        this.room(9);
        this.bytes[this.at] = INTEGER_F64;
        this.view.setFloat64(this.at + 1, value ? 1 : 0, true);
        this.at += 9;
        return true;
      case "bigint":
        if (value < I64_MIN || value > I64_MAX) return false;
        this.room(9);
        this.bytes[this.at] = INTEGER_I64;
        this.view.setBigInt64(this.at + 1, value, true);
        this.at += 9;
        return true;
      case "undefined":
        this.room(1);
        this.bytes[this.at++] = NULL;
        return true;
      case "object":
        if (value === null) {
          this.room(1);
          this.bytes[this.at++] = NULL;
          return true;
        }
        if (value instanceof Uint8Array) return this.blob(value);
        if (value instanceof ArrayBuffer) return this.blob(new Uint8Array(value));
        return false;
      default:
        return false;
    }
  }

  text(value) {
    // Short ASCII strings (most of them) are copied here; encodeInto costs more per call than that.
    const length = value.length;
    this.room(5 + length * 3);
    const start = this.at + 5;
    let i = 0;
    if (length <= 64) {
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        this.bytes[start + i] = code;
      }
    }
    let written = i;
    if (i < length) written = encoder.encodeInto(value, this.bytes.subarray(start, start + length * 3)).written;
    this.bytes[this.at] = TEXT;
    this.view.setUint32(this.at + 1, written, true);
    this.at = start + written;
    return true;
  }

  blob(bytes) {
    this.room(5 + bytes.length);
    this.bytes[this.at] = BLOB;
    this.view.setUint32(this.at + 1, bytes.length, true);
    this.bytes.set(bytes, this.at + 5);
    this.at += 5 + bytes.length;
    return true;
  }

  u32(n) {
    this.room(4);
    this.view.setUint32(this.at, n, true);
    this.at += 4;
  }

  /** Makes room for `n` more bytes. */
  room(n) {
    if (this.at + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
}
