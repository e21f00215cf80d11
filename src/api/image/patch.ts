import { forbidden, invalid } from '../../errors.js';
import { checkWritable, type ImageChange } from '../../image/images.js';
import { validateImage } from './schemas.js';
import { pyStr } from '../validation.js';

/** The two JSON Patch media types Glance takes: draft 10 (RFC 6902) and its older draft 4 form. */
export const PATCH_MEDIA_TYPES: Record<string, 4 | 10> = {
  'application/openstack-images-v2.0-json-patch': 4,
  'application/openstack-images-v2.1-json-patch': 10,
};

const OPS = ['add', 'remove', 'replace'] as const;

/** Sent with a 415, as Glance does, to name the media types that work. */
export const ACCEPT_PATCH = Object.keys(PATCH_MEDIA_TYPES).sort().join(', ');

function decodePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw invalid(`Pointer \`${pyStr(pointer)}\` does not start with "/".`);
  if (!pointer.startsWith('/')) throw invalid(`Pointer \`${pointer}\` does not start with "/".`);
  if (/\/\s*?\//.test(pointer.slice(1))) throw invalid(`Pointer \`${pointer}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw invalid(`Pointer \`${pointer}\` end with "/".`);
  if (pointer.slice(1).trim() === '/') throw invalid(`Pointer \`${pointer}\` does not contains valid token.`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) throw invalid(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  return pointer
    .replace(/^\/+/, '')
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~').trim());
}

function operation(raw: Record<string, unknown>, draft: 4 | 10): { op: ImageChange['op']; pointer: unknown } {
  if (draft === 10) {
    const op = raw.op;
    if (op === undefined) throw invalid(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${OPS.join(', ')}.`);
    if (!OPS.includes(op as ImageChange['op'])) throw invalid(`Invalid operation: \`${pyStr(op)}\`. It must be one of the following: ${OPS.join(', ')}.`);
    if (!('path' in raw)) throw invalid("Unable to find 'path' in JSON Schema change");
    return { op: op as ImageChange['op'], pointer: raw.path };
  }
  const present = OPS.filter((o) => o in raw);
  if (present.length > 1) throw invalid('Operation objects must contain only one member named "add", "remove", or "replace".');
  if (present.length === 0) throw invalid('Operation objects must contain exactly one member named "add", "remove", or "replace".');
  return { op: present[0], pointer: raw[present[0]] };
}

/**
 * Turns a PATCH body into image changes, refusing what Glance's deserializer refuses:
 * a malformed operation or pointer (400), a read-only or reserved attribute (403), and a
 * value the image schema rejects (400 naming the field).
 */
export function parseImagePatch(body: unknown, draft: 4 | 10): ImageChange[] {
  if (body === undefined) throw invalid('Body expected in request.');
  if (!Array.isArray(body)) throw invalid('Request body must be a JSON array of operation objects.');
  return body.map((raw: unknown) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('Operations must be JSON objects.');
    const { op, pointer } = operation(raw as Record<string, unknown>, draft);
    const path = decodePointer(pointer);
    const attribute = path[0];
    // Locations are hidden (show_multiple_locations is off), so they cannot be edited either.
    if (attribute === 'locations') throw forbidden('It\'s not allowed to update locations if locations are invisible.');
    if (path.length !== 1) throw invalid(`Invalid JSON pointer for this resource: '/${path.join('/')}'`);
    const change: ImageChange = { op, attribute, strict: draft === 4 };
    if (op !== 'remove') {
      if (!('value' in (raw as object))) throw invalid(`Operation "${op}" requires a member named "value".`);
      change.value = (raw as Record<string, unknown>).value;
    }
    checkWritable(attribute);
    if (op !== 'remove') validateImage({ [attribute]: change.value });
    return change;
  });
}
