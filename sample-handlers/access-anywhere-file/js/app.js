// The Access Anywhere `SampleFileAuditEventHandler` as a WASP handler, in
// JavaScript. Same behaviour and the same output bytes as the Rust version
// (`../src/lib.rs`): one JSON line per event with `actor`, `eventType`, `ip`,
// `date` (RFC 822, UTC), `log_str`, `name`, `objid`, `params`, each the value
// at the first JSON pointer of its list that is present in the event (`null`
// when none is). `config.mapping` replaces a field's list; `config.output`
// names the output (default `audit.log`).

import { MISSING, emit, exportHandler, pointer, toJson } from './wasp-guest.js';

const FIELDS = [
  ['actor', ['/userId', '/principal/0', '/actor']],
  ['eventType', ['/eventName', '/eventType']],
  ['ip', ['/client/ip', '/ip']],
  ['date', ['/timestamp']],
  ['log_str', ['/log', '/operation', '/request/operation', '/result']],
  ['name', ['/name', '/component']],
  ['objid', ['/objectId', '/objid']],
  ['params', ['/params', '/request/detail', '/changedFields']],
];

const DAYS = ['Thu', 'Fri', 'Sat', 'Sun', 'Mon', 'Tue', 'Wed'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

class AccessAnywhereFile {
  constructor(config) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw 'handler config: expected an object';
    for (const key of Object.keys(config)) {
      if (key !== 'mapping' && key !== 'output') throw `handler config: unknown field \`${key}\`, expected \`mapping\` or \`output\``;
    }
    const mapping = { ...(config.mapping ?? {}) };
    this.fields = FIELDS.map(([name, defaults]) => {
      const pointers = Object.hasOwn(mapping, name) ? mapping[name] : defaults;
      delete mapping[name];
      if (!Array.isArray(pointers) || !pointers.every((p) => typeof p === 'string')) {
        throw `handler config: mapping.${name} must be a list of JSON pointers`;
      }
      return [name, pointers];
    });
    const unknown = Object.keys(mapping).sort();
    if (unknown.length) {
      throw `config.mapping.${unknown[0]}: not a field of the output line (fields: ${FIELDS.map(([n]) => n).join(', ')})`;
    }
    this.output = config.output ?? 'audit.log';
  }

  // Index loops rather than `map`, destructuring and `for…of`: the engine
  // interprets inside WebAssembly, where each iterator costs.
  handle(event) {
    const document = event.json;
    let line = '{';
    for (let f = 0; f < this.fields.length; f++) {
      const name = this.fields[f][0];
      const pointers = this.fields[f][1];
      let value = null;
      for (let i = 0; i < pointers.length; i++) {
        const found = pointer(document, pointers[i], MISSING);
        if (found !== MISSING) {
          value = found;
          break;
        }
      }
      if (name === 'date' && typeof value === 'string') value = rfc822(value) ?? value;
      line += (f === 0 ? '' : ',') + toJson(name) + ':' + toJson(value);
    }
    emit(this.output, line + '}');
  }
}

const ENCODER = new TextEncoder();

function utf8(text) {
  return ENCODER.encode(text);
}

/** `2026-11-22T04:44:00.123Z` → `Sun, 22 Nov 26 04:44:00 +0000`; `null` when
 * the text is not an ISO-8601 date-time (the Rust version's rules, on bytes). */
function rfc822(ts) {
  const b = utf8(ts);
  const isDigit = (c) => c >= 0x30 && c <= 0x39;
  const num = (start, end) => {
    if (end > b.length) return null;
    let n = 0;
    for (let i = start; i < end; i++) {
      if (!isDigit(b[i])) return null;
      n = n * 10 + (b[i] - 0x30);
    }
    return n;
  };
  const ch = (i) => (i < b.length ? String.fromCharCode(b[i]) : '');
  const t = ch(10);
  if (b.length < 19 || ch(4) !== '-' || ch(7) !== '-' || (t !== 'T' && t !== 't' && t !== ' ') || ch(13) !== ':' || ch(16) !== ':') return null;
  const year = num(0, 4);
  const month = num(5, 7);
  const day = num(8, 10);
  const hour = num(11, 13);
  const minute = num(14, 16);
  const second = num(17, 19);
  if (year === null || month === null || day === null || hour === null || minute === null || second === null) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (month < 1 || month > 12 || day < 1 || day > monthDays[month - 1] || hour > 23 || minute > 59 || second > 60) return null;
  let i = 19;
  if (ch(i) === '.') {
    i += 1;
    while (i < b.length && isDigit(b[i])) i += 1;
  }
  let offset;
  const c = ch(i);
  if ((c === 'Z' || c === 'z') && i + 1 === b.length) {
    offset = 0;
  } else if ((c === '+' || c === '-') && b.length === i + 6 && ch(i + 3) === ':') {
    const hh = num(i + 1, i + 3);
    const mm = num(i + 4, i + 6);
    if (hh === null || mm === null) return null;
    offset = c === '+' ? hh * 60 + mm : -(hh * 60 + mm);
  } else {
    return null;
  }
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60;
  const days = Math.floor(seconds / 86400);
  const secs = seconds - days * 86400;
  const ymd = civilFromDays(days);
  const y = ymd[0];
  const m = ymd[1];
  const d = ymd[2];
  const two = (n) => String(n).padStart(2, '0');
  const mod = (a, n) => ((a % n) + n) % n;
  return `${DAYS[mod(days, 7)]}, ${two(d)} ${MONTHS[m - 1]} ${two(mod(y, 100))} ${two(Math.floor(secs / 3600))}:${two(Math.floor((secs % 3600) / 60))}:${two(secs % 60)} +0000`;
}

/** Days since 1970-01-01 (H. Hinnant's algorithm). */
function daysFromCivil(y0, m, d) {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z0) {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export const { init, handleBatch } = exportHandler(AccessAnywhereFile);
