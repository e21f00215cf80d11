/**
 * Nova's name formats (nova/api/validation/parameter_types.py), defined once for every
 * schema that takes a name. A name is made of printable characters: Python's view of
 * them, letters, marks, numbers, punctuation, symbols and space separators, and only from
 * the Basic Multilingual Plane, which is all Nova's character ranges cover. So NUL and
 * every other control, format, unassigned, private-use, line or paragraph separator
 * character is a 400 with Nova's InvalidName message, and never reaches the database.
 *
 * One difference kept on purpose: Python's `$` also matches before a final newline, so
 * Nova lets "name\n" through; a newline is not printable, and here it is refused.
 */

/** Every character printable, as _build_regex_range() (0x0000–0xFFFE) sees them. */
const PRINTABLE = /^[^\p{C}\p{Zl}\p{Zp}\u{FFFF}-\u{10FFFF}]*$/u;
const EDGE_SPACE = /^\p{Zs}|\p{Zs}$/u;
const NON_SPACE = /[^\p{Zs}]/u;

export const isPrintable = (value: string): boolean => PRINTABLE.test(value);

/** The format a schema names, what it accepts, and the reason Nova's message gives. */
export interface NameFormat {
  test: (value: string) => boolean;
  reason: string;
}

export const NAME_FORMATS: Record<string, NameFormat> = {
  /** parameter_types.name: printable, without leading or trailing whitespace. */
  name: { test: (v) => isPrintable(v) && !EDGE_SPACE.test(v), reason: 'printable characters. Can not start or end with whitespace.' },
  /** parameter_types.name_with_leading_trailing_spaces: printable, with one non-space at least. */
  name_with_leading_trailing_spaces: { test: (v) => isPrintable(v) && NON_SPACE.test(v), reason: 'printable characters with at least one non space character' },
  /** parameter_types.az_name: a name without ':' (which separates a zone from a host). */
  az_name: { test: (v) => isPrintable(v) && !EDGE_SPACE.test(v) && !v.includes(':'), reason: 'printable characters except :.Can not start or end with whitespace.' },
  az_name_with_leading_trailing_spaces: {
    test: (v) => isPrintable(v) && NON_SPACE.test(v) && !v.includes(':'),
    reason: 'printable characters except :, with at least one non space character',
  },
};

/** Nova's InvalidName, which names the field as 'name' whatever the field. */
export const invalidNameMessage = (reason: string) => `An invalid 'name' value was provided. The name must be: ${reason}`;

/** Nova's name schemas, as JSON Schema with the formats above. */
export const nameSchema = (format: keyof typeof NAME_FORMATS = 'name') => ({ type: 'string', minLength: 1, maxLength: 255, format });

/** parameter_types.description: printable characters, whitespace included, or null. */
export const DESCRIPTION_PATTERN = '^[^\\p{C}\\p{Zl}\\p{Zp}\\u{FFFF}-\\u{10FFFF}]*$';
