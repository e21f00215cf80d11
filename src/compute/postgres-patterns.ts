/**
 * A caller's pattern (already accepted by search-patterns.ts) as a PostgreSQL regular
 * expression that matches at least every text the pattern matches: the database narrows a
 * list to candidates with it (`name ~ …`, using an index where one helps), and RE2 decides
 * on each candidate. So the answer is RE2's on both databases, and PostgreSQL only has to be
 * right about what it must not drop.
 *
 * Where PostgreSQL's reading depends on its locale (\w, \d, case folding past ASCII, word
 * boundaries) or differs from Python's, the translation widens: a class is exact on ASCII
 * and takes every non-ASCII character; an assertion it cannot say becomes empty; a cased
 * letter under (?i) is its RE2 case orbit, or any character past ASCII. No group captures
 * and nothing refers back, so PostgreSQL runs it on its DFA path (no backtracking), and the
 * size bound of search-patterns.ts has already been applied.
 */

/** Matches any one character (`.` takes newlines too in PostgreSQL's default mode). */
const ANY = '.';
/** Matches the empty string: what an assertion we cannot say widens to. */
const EMPTY = '(?:)';
/** Every character past ASCII, as a bracket expression's member. */
const NON_ASCII = '\\u0080-\\U0010FFFF';
/** RE2's case orbits that leave ASCII (checked over the BMP: the only two). */
const FOLDS_OUT: Record<string, string> = { k: '\\u212A', s: '\\u017F' };
const FOLDS_IN: Record<number, string> = { 0x212a: 'kK', 0x17f: 'sS' };

interface Flags {
  i: boolean;
  m: boolean;
}

/** A set of characters: exact on ASCII (128 bits), and whether any non-ASCII one may be in it. */
interface CharSet {
  ascii: boolean[];
  nonAscii: boolean;
}

const emptySet = (): CharSet => ({ ascii: new Array(128).fill(false), nonAscii: false });
const range = (set: CharSet, lo: number, hi: number) => {
  for (let c = lo; c <= Math.min(hi, 127); c++) set.ascii[c] = true;
  if (hi > 127) set.nonAscii = true;
};

/** Python's Unicode classes on ASCII (str patterns); each also holds non-ASCII characters. */
const CLASSES: Record<string, (c: number) => boolean> = {
  d: (c) => c >= 0x30 && c <= 0x39,
  w: (c) => /[A-Za-z0-9_]/.test(String.fromCharCode(c)),
  s: (c) => (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20),
};

const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, a: 7 };
const META = new Set('\\^$.|?*+()[]{}');

const hex = (c: number) => (c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`);

function literal(c: number, flags: Flags): string {
  const ch = String.fromCodePoint(c);
  if (flags.i) {
    if (c < 128 && /[A-Za-z]/.test(ch)) {
      const lower = ch.toLowerCase();
      return `[${lower}${lower.toUpperCase()}${FOLDS_OUT[lower] ?? ''}]`;
    }
    // Past ASCII, PostgreSQL's folding is its locale's: any character may be one of the orbit.
    if (c >= 128 && (ch.toLowerCase() !== ch || ch.toUpperCase() !== ch)) return ANY;
  }
  if (c < 128) return META.has(ch) ? `\\${ch}` : /[\x21-\x7e]/.test(ch) ? ch : hex(c);
  return hex(c);
}

function bracket(set: CharSet): string {
  let out = '';
  for (let c = 0; c < 128; c++) {
    if (!set.ascii[c]) continue;
    let end = c;
    while (end + 1 < 128 && set.ascii[end + 1]) end++;
    out += end === c ? hex(c) : `${hex(c)}-${hex(end)}`;
    c = end;
  }
  if (set.nonAscii) out += NON_ASCII;
  return `[${out}]`;
}

/**
 * `mode` 'search': the text is the value itself. 'address': the text is the JSON of a
 * server's addresses, and the pattern (Python's re.match) is tried at the start of each of
 * its strings, an address among them, and ends at most where the string does. The key
 * `"addr":"` is not asked for: its trigrams are in every row, and reading their index
 * entries cost more than the rows it would have left out.
 */
export function postgresSuperset(pattern: string, mode: 'search' | 'address'): string {
  let i = 0;

  /** An escape at i: a code point, a class (as a set), or an assertion (null), advancing i. */
  const escape = (): { cp: number } | { set: CharSet } | null | 'unknown' => {
    const c = pattern[i + 1] ?? '';
    const long = /^\\(?:x\{([0-9A-Fa-f]+)\}|x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))/.exec(pattern.slice(i, i + 12));
    if (long) {
      i += long[0].length;
      return { cp: parseInt(long[1] ?? long[2] ?? long[3] ?? long[4], 16) };
    }
    const prop = /^\\[pP](?:\{[^}]*\}|[A-Za-z])/.exec(pattern.slice(i, i + 40));
    if (prop) {
      i += prop[0].length;
      const set = emptySet();
      range(set, 0, 0x10ffff);
      return { set };
    }
    i += 2;
    const lower = c.toLowerCase();
    if (CLASSES[lower]) {
      const set = emptySet();
      const negated = c !== lower;
      for (let k = 0; k < 128; k++) set.ascii[k] = CLASSES[lower](k) !== negated;
      set.nonAscii = true;
      return { set };
    }
    if (c in SIMPLE_ESCAPES) return { cp: SIMPLE_ESCAPES[c] };
    if ('bBAZz'.includes(c) && c !== '') return null;
    if (/[^A-Za-z0-9]/.test(c) && c !== '') return { cp: c.codePointAt(0)! };
    return 'unknown';
  };

  const charSet = (flags: Flags): CharSet => {
    const set = emptySet();
    i++;
    const negated = pattern[i] === '^';
    if (negated) i++;
    let first = true;
    const member = (): { cp: number } | { set: CharSet } => {
      if (pattern[i] === '\\') {
        const e = escape();
        if (e && e !== 'unknown') return e;
        const all = emptySet();
        range(all, 0, 0x10ffff);
        return { set: all };
      }
      const cp = pattern.codePointAt(i)!;
      i += cp > 0xffff ? 2 : 1;
      return { cp };
    };
    while (i < pattern.length && (first || pattern[i] !== ']')) {
      first = false;
      const lo = member();
      if ('set' in lo) {
        lo.set.ascii.forEach((b, k) => b && (set.ascii[k] = true));
        set.nonAscii ||= lo.set.nonAscii;
        continue;
      }
      let hi = lo.cp;
      if (pattern[i] === '-' && pattern[i + 1] !== undefined && pattern[i + 1] !== ']') {
        i++;
        const end = member();
        if ('set' in end) {
          // `a-\d` is no range: both ends and the dash are members.
          range(set, lo.cp, lo.cp);
          range(set, 45, 45);
          end.set.ascii.forEach((b, k) => b && (set.ascii[k] = true));
          set.nonAscii ||= end.set.nonAscii;
          continue;
        }
        hi = end.cp;
      }
      range(set, lo.cp, hi);
      if (flags.i) {
        for (const [cp, ascii] of Object.entries(FOLDS_IN)) if (Number(cp) >= lo.cp && Number(cp) <= hi) for (const ch of ascii) set.ascii[ch.charCodeAt(0)] = true;
      }
    }
    i++; // the closing ]
    if (flags.i) {
      for (let k = 0; k < 128; k++) {
        if (!set.ascii[k]) continue;
        const ch = String.fromCharCode(k);
        if (!/[A-Za-z]/.test(ch)) continue;
        set.ascii[ch.toLowerCase().charCodeAt(0)] = set.ascii[ch.toUpperCase().charCodeAt(0)] = true;
        if (FOLDS_OUT[ch.toLowerCase()]) set.nonAscii = true;
      }
    }
    if (negated) {
      for (let k = 0; k < 128; k++) set.ascii[k] = !set.ascii[k];
      set.nonAscii = true;
    }
    return set;
  };

  const anchorStart = (flags: Flags) => (flags.m || mode === 'address' ? EMPTY : '^');
  const anchorEnd = (flags: Flags) => (mode === 'address' ? '(?=")' : flags.m ? '(?=\\n|$)' : '(?=\\n?$)');

  const sequence = (outer: Flags): string => {
    const flags = { ...outer };
    let out = '';
    while (i < pattern.length && pattern[i] !== ')') {
      const c = pattern[i];
      if (c === '|') {
        out += '|';
        i++;
      } else if (c === '(') {
        const head = /^\(\?([A-Za-z]*)(?:-([A-Za-z]*))?(\)|:)/.exec(pattern.slice(i, i + 20));
        if (head) {
          i += head[0].length;
          const set = { ...flags };
          for (const f of head[1]) if (f === 'i' || f === 'm') set[f] = true;
          for (const f of head[2] ?? '') if (f === 'i' || f === 'm') set[f] = false;
          if (head[3] === ')') {
            Object.assign(flags, set); // (?i): the rest of this group
            continue;
          }
          out += `(?:${sequence(set)})`;
        } else {
          const named = /^\((?:\?P?<[A-Za-z_]\w*>)?/.exec(pattern.slice(i, i + 40))!;
          i += named[0].length;
          out += `(?:${sequence(flags)})`;
        }
        i++; // the closing )
      } else if (c === '[') {
        out += bracket(charSet(flags));
      } else if (c === '\\') {
        const at = i;
        const e = escape();
        if (e === 'unknown') out += '(?:.?)';
        else if (e === null) {
          const a = pattern[at + 1];
          out += a === 'A' ? anchorStart({ ...flags, m: false }) : a === 'Z' || a === 'z' ? anchorEnd({ ...flags, m: false }) : EMPTY;
        } else if ('cp' in e) out += literal(e.cp, flags);
        else out += bracket(e.set);
      } else if (c === '.') {
        out += ANY;
        i++;
      } else if (c === '^') {
        out += anchorStart(flags);
        i++;
      } else if (c === '$') {
        out += anchorEnd(flags);
        i++;
      } else if (c === '*' || c === '+' || c === '?') {
        out += c;
        i++;
        if (pattern[i] === '?') i++; // lazy: the same texts match
      } else if (c === '{') {
        const q = /^\{(\d*)(?:(,)(\d*))?\}/.exec(pattern.slice(i, i + 24));
        if (q && (q[1] !== '' || q[2])) {
          // PostgreSQL counts up to 255: a larger bound widens to "at least".
          const min = Math.min(q[1] === '' ? 0 : Number(q[1]), 255);
          const max = q[2] ? (q[3] === '' ? undefined : Number(q[3])) : Number(q[1]);
          out += max === undefined || max > 255 ? `{${min},}` : `{${min},${max}}`;
          i += q[0].length;
          if (pattern[i] === '?') i++;
        } else {
          out += '\\{';
          i++;
        }
      } else {
        const cp = pattern.codePointAt(i)!;
        i += cp > 0xffff ? 2 : 1;
        out += literal(cp, flags);
      }
    }
    return out;
  };

  let body = sequence({ i: false, m: false });
  while (i < pattern.length) {
    i++; // an unbalanced `)` (RE2 refused it already): what follows still narrows nothing wrongly
    body += '|' + sequence({ i: false, m: false });
  }
  return mode === 'address' ? `"(?:${body})` : body;
}
