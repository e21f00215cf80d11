/** How OpenStack's messages quote the values they name: Python's repr() and str(). */

/** Python's repr(), since OpenStack's messages quote values the Python way. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as object).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A string as Python's repr() quotes it: single quotes (double when it holds one), control characters escaped. */
function pyString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/[\\\t\n\r'"]|[\u0000-\u001f\u007f-\u00a0]/g, (c) => {
    if (c === quote) return `\\${c}`;
    if (c === "'" || c === '"') return c;
    return ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `${quote}${body}${quote}`;
}

/** Python's str(): strings bare, everything else as repr. */
export const pyStr = (value: unknown) => (typeof value === 'string' ? value : pyRepr(value));

/** Python's bool(): None, False, 0, '' and an empty list or dict are false. */
export function pyBool(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
