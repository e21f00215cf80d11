import { RE2JS } from 're2js';
import { invalid } from '../errors.js';

/**
 * Patterns callers send to be matched against names and addresses (the servers list's
 * `name`, `ip` and `ip6` filters, the hypervisor search, the control API's behaviours). A
 * backtracking engine (JavaScript's RegExp, Python's re) takes exponential time on patterns
 * like `^(a+)+$` against a crafted name, on the event loop every tenant shares. RE2 (here
 * re2js, its pure-JavaScript port) matches in time linear in the text, and its size bound
 * below keeps the compiled program, and so the factor of that line, small.
 *
 * Nova reads these patterns with Python's re (re.search, or the database's regexp): the
 * pattern is translated where the two differ and RE2 can say the same (Unicode \d \w \s,
 * \Z, {,n}, \uXXXX, a `[` inside a set); what needs backtracking (lookaround,
 * backreferences) is refused with a 400, and \b stays ASCII.
 */
export interface SearchPattern {
  /** Does the pattern occur in `text` (Python's re.search)? */
  test(text: string): boolean;
}

/**
 * The most RE2 instructions a caller's pattern may compile to, an atom with a Unicode class
 * (\p{L}, Python's \w …) counting UNICODE_WEIGHT for its hundreds of ranges. Matching costs
 * at worst the text's length times the threads alive (at most the program's size), so some
 * milliseconds for a 255-character name; compiling is linear in the size. Names are at most
 * 255 characters, so a larger program could only match nothing; real filters (`^web-\d+$`,
 * `^10\.0\.`) are a few dozen.
 */
export const MAX_PROGRAM = 256;
const UNICODE_WEIGHT = 16;

/** Python's Unicode classes for str patterns, in RE2 syntax (inside a set, then as a set). */
const IN_SET: Record<string, string> = { d: '\\p{Nd}', D: '\\P{Nd}', w: '\\p{L}\\p{N}_', s: '\\t-\\r\\x1c-\\x20\\x85\\p{Z}' };
const AS_ATOM: Record<string, string> = {
  d: '\\p{Nd}',
  D: '\\P{Nd}',
  w: '[\\p{L}\\p{N}_]',
  W: '[^\\p{L}\\p{N}_]',
  s: `[${IN_SET.s}]`,
  S: `[^${IN_SET.s}]`,
};

const QUANTIFIER = /\{(\d*)(?:(,)(\d*))?\}/y;
const GROUP_HEAD = /\(\?(?:P?<[A-Za-z_]\w*>|[A-Za-z-]*:?)?|\(/y;
/** Escapes longer than two characters, copied whole: RE2's \p{…} and \x{…}, \xhh, Python's \uXXXX and \UXXXXXXXX. */
const LONG_ESCAPE = /\\(?:([pP])(?:\{[^}]*\}|[A-Za-z])|x(?:\{[0-9A-Fa-f]*\}|[0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))/y;

/** Thrown for what Python's re refuses too, so no RE2 reading of it is offered. */
class NotPython extends Error {}

/**
 * Python's reading of `pattern` in RE2 syntax, and an upper bound of the instructions it
 * compiles to (an atom 1, or UNICODE_WEIGHT with a Unicode class; a group 2 more; a counted
 * repeat multiplying what it repeats), in one pass, so a huge pattern is refused before
 * anything expensive runs.
 */
export function translate(pattern: string): { source: string; size: number } {
  let i = 0;
  let out = '';

  /** An escape at i, copied or translated; returns its weight. Inside a set, Python's classes become members. */
  const escape = (inSet: boolean): number => {
    LONG_ESCAPE.lastIndex = i;
    const long = LONG_ESCAPE.exec(pattern);
    if (long) {
      const hex = long[2] ?? long[3];
      out += hex ? `\\x{${hex}}` : long[0];
      i = LONG_ESCAPE.lastIndex;
      return long[1] ? UNICODE_WEIGHT : 1;
    }
    const c = pattern[i + 1] ?? '';
    if (c === 'Q' || c === 'E') throw new NotPython(`bad escape \\${c}`);
    i += 2;
    const mapped = inSet ? IN_SET[c] : c === 'Z' ? '\\z' : AS_ATOM[c];
    out += mapped ?? `\\${c}`;
    return mapped && c !== 'Z' ? UNICODE_WEIGHT : 1;
  };

  const set = (): number => {
    let weight = 1;
    out += '[';
    i++;
    if (pattern[i] === '^') (out += '^'), i++;
    if (pattern[i] === ']') (out += '\\]'), i++; // first, it is a member (both engines)
    while (i < pattern.length && pattern[i] !== ']') {
      if (pattern[i] === '\\') weight = Math.max(weight, escape(true));
      else if (pattern[i] === '[') (out += '\\['), i++; // Python has no [:alpha:]: a `[` is a member
      else (out += pattern[i]), i++;
    }
    if (i < pattern.length) (out += ']'), i++;
    return weight;
  };

  const sequence = (): number => {
    let total = 0;
    let last = 0;
    while (i < pattern.length && pattern[i] !== ')') {
      const c = pattern[i];
      QUANTIFIER.lastIndex = i;
      const q = c === '{' ? QUANTIFIER.exec(pattern) : null;
      if (q && (q[1] !== '' || q[2])) {
        // {n}, {n,}, {n,m}, and Python's {,m} and {,}; RE2 unrolls them into copies of the atom.
        const min = q[1] === '' ? 0 : Number(q[1]);
        const max = q[2] ? (q[3] === '' ? undefined : Number(q[3])) : min;
        out += q[2] ? `{${min},${max ?? ''}}` : `{${min}}`;
        i = QUANTIFIER.lastIndex;
        const copies = Math.max(min, max ?? 0) + 1;
        total += last * (copies - 1);
        last *= copies;
      } else if (c === '(') {
        GROUP_HEAD.lastIndex = i;
        GROUP_HEAD.exec(pattern);
        out += pattern.slice(i, GROUP_HEAD.lastIndex);
        i = GROUP_HEAD.lastIndex;
        const inner = sequence();
        if (i < pattern.length) (out += ')'), i++;
        last = inner + 2;
        total += last;
      } else if (c === '\\' || c === '[') {
        last = c === '\\' ? escape(false) : set();
        total += last;
      } else {
        out += c;
        i++;
        if (c === '|') last = 0;
        else if (!'*+?'.includes(c)) last = 1;
        total += 1;
      }
    }
    return total;
  };

  let size = sequence();
  while (i < pattern.length) {
    // An unbalanced `)`: copied so RE2 reports it; the rest still counts.
    out += pattern[i++];
    size += sequence() + 1;
  }
  return { source: out, size };
}

function compile(field: string, pattern: string, source: string, size: number): SearchPattern {
  if (size > MAX_PROGRAM) {
    throw invalid(`Invalid regular expression for ${field}: ${pattern} (too large: at most ${MAX_PROGRAM} steps, counted repeats unrolled and Unicode classes counting ${UNICODE_WEIGHT})`);
  }
  try {
    return RE2JS.compile(source);
  } catch (err) {
    const why = (err as { getDescription?: () => string }).getDescription?.() ?? (err as Error).message;
    throw invalid(`Invalid regular expression for ${field}: ${pattern} (${why}; lookaround and backreferences are not supported)`);
  }
}

/** A caller's regular expression as Python's re.search reads it; 400 naming `field` when it cannot be used. */
export function searchPattern(field: string, pattern: string): SearchPattern {
  const translated = translateFor(field, pattern);
  return compile(field, pattern, translated.source, translated.size);
}

/** The pattern in RE2's syntax; 400 naming `field` when Python would read it otherwise. */
function translateFor(field: string, pattern: string): { source: string; size: number } {
  try {
    return translate(pattern);
  } catch (err) {
    if (err instanceof NotPython) throw invalid(`Invalid regular expression for ${field}: ${pattern} (${err.message})`);
    throw err;
  }
}

/**
 * A caller's regular expression as Python's re.match reads it (anchored at the start of the
 * text): Nova's ip and ip6 filters (compute/api.py _ip_filter); 400 naming `field` as above.
 */
export function prefixPattern(field: string, pattern: string): SearchPattern {
  const translated = translateFor(field, pattern);
  // The pattern is compiled alone first, so an error names the caller's pattern, not the wrapper.
  compile(field, pattern, translated.source, translated.size);
  return compile(field, pattern, `^(?:${translated.source})`, translated.size);
}

/**
 * SQL LIKE '%pattern%' as Nova's hypervisor search runs it: `%` any run of characters, `_`
 * any one, the rest literal, case-insensitive (as on MySQL and SQLite).
 */
export function likePattern(field: string, pattern: string): SearchPattern {
  const body = [...pattern].map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : RE2JS.quote(ch))).join('');
  return compile(field, pattern, `(?is)${body}`, pattern.length);
}
