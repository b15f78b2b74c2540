// Write WASP audit handlers in JavaScript (built with componentize-js 0.23.0).
//
// A handler is a class with `handle(event)` (and optionally a constructor
// taking the `config` object); the app module exports what `exportHandler`
// returns:
//
//   import { exportHandler, emit, log, state, toJson } from './wasp-guest.js';
//
//   class WhoDidWhat {
//     constructor(config) { this.prefix = config.prefix ?? ''; }
//     handle(event) {
//       emit('audit.log', toJson({ line: `${this.prefix}${event.userId ?? 'anonymous'} did ${event.eventName}` }));
//     }
//   }
//
//   export const { init, handleBatch } = exportHandler(WhoDidWhat);
//
// Build: `componentize-js app.js --wit <repo>/wit --world-name handler -d http
// fetch-event -o app.wasm` (with `wasp-guest.js` beside `app.js`).
//
// Whatever `handle` throws (an `Error`, a string, anything) becomes
// `err(message)` for that event; whatever the constructor throws becomes
// `init`'s `err`. The SDK hands the host only strings: an `Error` object
// thrown across the component boundary would kill the instance.

import { log as hostLog } from 'wasp:handler/logging@0.1.0';
import { emit as hostEmit } from 'wasp:handler/output@0.1.0';
import { get as stateGet, set as stateSet, remove as stateRemove } from 'wasp:handler/state@0.1.0';

/** Returned by `event.get(path, MISSING)` when nothing is at the path. */
export const MISSING = Symbol('missing');

// The sequence (a BigInt) of the event being handled, for `emit`.
let current = null;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A host call refused what the handler asked. */
export class WaspError extends Error {}

/** One audit event. The common fields cost nothing; `json` parses the whole
 * document once, on first use. */
export class Event {
  #raw;
  #doc = MISSING;

  constructor(raw) {
    this.#raw = raw;
  }

  /** The event's `_id`. */
  get _id() { return this.#raw.id; }
  get id() { return this.#raw.id; }
  /** The topic the event was published to. */
  get topic() { return this.#raw.topic; }
  /** The journal sequence number, as a Number (exact below 2^53). */
  get sequence() { return Number(this.#raw.sequence); }
  /** The event's `timestamp` (ISO-8601 UTC). */
  get timestamp() { return this.#raw.timestamp; }
  /** `eventName`, `transactionId`, `userId`: `undefined` when absent. */
  get eventName() { return this.#raw.eventName; }
  get transactionId() { return this.#raw.transactionId; }
  get userId() { return this.#raw.userId; }
  /** The event's `trackingIds` (`[]` when absent). */
  get trackingIds() {
    const ids = this.json.trackingIds;
    return Array.isArray(ids) ? ids : [];
  }
  /** The whole document as JSON text. */
  get rawJson() { return this.#raw.json; }
  /** The whole document, parsed once on first use. */
  get json() {
    if (this.#doc === MISSING) this.#doc = JSON.parse(this.#raw.json);
    return this.#doc;
  }

  /** The value at a JSON pointer (`/client/ip`) or dotted path
   * (`client.ip`, `trackingIds.0`); `fallback` when nothing is there. */
  get(path, fallback = undefined) {
    if (path === '' || path.startsWith('/')) return pointer(this.json, path, fallback);
    const escaped = path.split('.').map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1'));
    return pointer(this.json, '/' + escaped.join('/'), fallback);
  }
}

/** The value at a JSON pointer (RFC 6901, resolved as serde_json does),
 * else `fallback`. */
export function pointer(document, path, fallback = undefined) {
  let tokens = pointerTokens.get(path);
  if (tokens === undefined) {
    if (path === '') return document;
    if (!path.startsWith('/')) return fallback;
    tokens = path.slice(1).split('/').map((raw) => raw.replaceAll('~1', '/').replaceAll('~0', '~'));
    // A handler's pointers, parsed once.
    if (pointerTokens.size < 1024) pointerTokens.set(path, tokens);
  }
  // An index loop and `Object.hasOwn`: inside WebAssembly the engine
  // interprets, and an iterator or a `.call` per step costs more than the
  // lookup itself.
  let target = document;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (target === null || typeof target !== 'object') return fallback;
    if (Array.isArray(target)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return fallback;
      const index = Number(token);
      if (index >= target.length) return fallback;
      target = target[index];
    } else {
      if (!Object.hasOwn(target, token)) return fallback;
      target = target[token];
    }
  }
  return target;
}

const pointerTokens = new Map();

function bytes(data) {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new WaspError(`expected a string or bytes, found ${typeof data}`);
}

function message(error) {
  if (typeof error === 'string') return error;
  if (error instanceof WaspError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  // Errors of imported functions carry the WIT error payload.
  if (error && typeof error === 'object' && 'payload' in error) return String(error.payload);
  try {
    return String(error);
  } catch {
    return 'handler threw a value that cannot be printed';
  }
}

/** Stages `data` (a string or bytes) as one record for the output named
 * `output`, on behalf of the event being handled; written only if `handle`
 * returns normally. Throws a `WaspError` when the host refuses it. */
export function emit(output, data) {
  if (current === null) throw new WaspError(`emit to \`${output}\` outside of \`handle\`: records belong to an event`);
  try {
    hostEmit(current, output, bytes(data));
  } catch (e) {
    throw new WaspError(message(e));
  }
}

/** Writes to the host log: `log.info('…')`, … or `log('…', 'debug')`. */
export const log = Object.assign((text, level = 'info') => hostLog(level, String(text)), {
  trace: (text) => hostLog('trace', String(text)),
  debug: (text) => hostLog('debug', String(text)),
  info: (text) => hostLog('info', String(text)),
  warn: (text) => hostLog('warn', String(text)),
  error: (text) => hostLog('error', String(text)),
});

/** Small per-handler key/value state that survives instance recycling.
 * `get` returns a Uint8Array (or `fallback`); `getString`, `getInt` (a u64
 * as the Rust SDK stores it: 8 bytes little endian; a Number) and `getJson`
 * read typed values. */
export const state = {
  get(key, fallback = undefined) {
    const value = stateGet(key);
    return value === undefined || value === null ? fallback : value;
  },
  set(key, value) {
    try {
      stateSet(key, bytes(value));
    } catch (e) {
      throw new WaspError(message(e));
    }
  },
  remove(key) {
    stateRemove(key);
  },
  getString(key, fallback = undefined) {
    const value = state.get(key);
    return value === undefined ? fallback : decoder.decode(value);
  },
  getInt(key) {
    const value = state.get(key);
    if (value === undefined || value.length !== 8) return 0;
    return Number(new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true));
  },
  setInt(key, value) {
    const buffer = new Uint8Array(8);
    new DataView(buffer.buffer).setBigUint64(0, BigInt(value), true);
    state.set(key, buffer);
  },
  getJson(key, fallback = undefined) {
    const value = state.getString(key);
    return value === undefined ? fallback : JSON.parse(value);
  },
  setJson(key, value) {
    state.set(key, toJson(value));
  },
};

/** The `init` and `handleBatch` exports of the handler world, built around
 * `handler`: a class (constructed with the config object) or a function
 * `handle(event)`. Use: `export const { init, handleBatch } = exportHandler(H);` */
export function exportHandler(handler) {
  const isClass = typeof handler === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(handler));
  const build = isClass ? (config) => new handler(config) : () => ({ handle: handler });
  let instance = null;
  return {
    init(config) {
      try {
        instance = build(config.trim() === '' ? {} : JSON.parse(config));
      } catch (e) {
        // Only a string may cross the boundary as the error.
        throw message(e);
      }
    },
    handleBatch(events) {
      const results = [];
      for (const raw of events) {
        if (instance === null) {
          results.push({ tag: 'err', val: 'handler called before a successful init' });
          continue;
        }
        current = raw.sequence;
        try {
          instance.handle(new Event(raw));
          results.push({ tag: 'ok', val: undefined });
        } catch (e) {
          results.push({ tag: 'err', val: message(e) });
        } finally {
          current = null;
        }
      }
      return results;
    },
  };
}

// ---- JSON exactly as serde_json writes it ---------------------------------

/** `value` as compact JSON text, byte for byte as the Rust SDK's
 * `serde_json::Value::to_string` writes it: object keys sorted (by code
 * point), no spaces, floats in shortest form (`1.5e-7`, `1e+21`).
 * Caveat: JavaScript numbers cannot tell `1.0` from `1` (written `1`; Rust
 * and Python write `1.0`), nor hold integers above 2^53 exactly. */
export function toJson(value) {
  // The common cases, without the array and join.
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return 'null';
  const out = [];
  write(value, out);
  return out.join('');
}

function compareCodePoints(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0) - y.value.codePointAt(0);
    if (d !== 0) return d;
  }
}

function write(value, out) {
  if (value === null || value === undefined) {
    out.push('null');
  } else if (typeof value === 'boolean') {
    out.push(value ? 'true' : 'false');
  } else if (typeof value === 'string') {
    out.push(JSON.stringify(value));
  } else if (typeof value === 'number') {
    out.push(number(value));
  } else if (typeof value === 'bigint') {
    out.push(value.toString());
  } else if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i) out.push(',');
      write(item, out);
    });
    out.push(']');
  } else if (typeof value === 'object') {
    out.push('{');
    Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort(compareCodePoints)
      .forEach((key, i) => {
        if (i) out.push(',');
        out.push(JSON.stringify(key), ':');
        write(value[key], out);
      });
    out.push('}');
  } else {
    throw new WaspError(`${typeof value} is not JSON`);
  }
}

function number(x) {
  if (!Number.isFinite(x)) return 'null';
  if (Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER && !Object.is(x, -0)) return String(x);
  return (x < 0 || Object.is(x, -0) ? '-' : '') + formatShortest(String(Math.abs(x)));
}

/** Reformats the shortest round-trip text of a non-negative number the way
 * serde_json 1.0.154 (the `zmij` crate) does: plain notation for decimal
 * exponents -5..=15 (`100.0`, `0.00012`), else `1.5e-7` / `1e+21`. */
export function formatShortest(text) {
  const [mantissa, exp] = text.split('e');
  let exponent = exp ? Number(exp) : 0;
  const [whole, fraction = ''] = mantissa.split('.');
  let digits = (whole + fraction).replace(/^0+/, '');
  exponent -= fraction.length;
  if (digits === '') return '0.0';
  const stripped = digits.replace(/0+$/, '');
  exponent += digits.length - stripped.length;
  digits = stripped;
  const length = digits.length;
  const kk = length + exponent;
  if (exponent >= 0 && kk <= 16) return digits + '0'.repeat(exponent) + '.0';
  if (kk > 0 && kk <= 16) return digits.slice(0, kk) + '.' + digits.slice(kk);
  if (kk > -5 && kk <= 0) return '0.' + '0'.repeat(-kk) + digits;
  const suffix = kk >= 1 ? `e+${kk - 1}` : `e-${1 - kk}`;
  return (length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`) + suffix;
}
