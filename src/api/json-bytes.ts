/**
 * Answers assembled from JSON kept as UTF-8 bytes (the faces keep each server's rendering as
 * bytes): concatenating bytes costs next to nothing, encoding a long answer's text does not.
 */
/** `{"<key>":<item>}` as one buffer: the item is JSON already. */
export function jsonOne(key: string, item: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`{"${key}":`), item, CLOSE]);
}
const CLOSE = Buffer.from('}');

/** `{<head>"<key>":[<items>]<tail>}` as one buffer: the items are JSON already. */
export function jsonList(key: string, items: Buffer[], tail = '', head = ''): Buffer {
  const parts: Buffer[] = [Buffer.from(`{${head}"${key}":[`)];
  for (let i = 0; i < items.length; i++) {
    if (i > 0) parts.push(COMMA);
    parts.push(items[i]);
  }
  parts.push(Buffer.from(`]${tail}}`));
  return Buffer.concat(parts);
}
const COMMA = Buffer.from(',');
