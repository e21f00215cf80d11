import type { FastifyRequest } from 'fastify';
import { queryLists } from '../query.js';
import { badRequest } from '../../network/errors.js';
import { pyRepr } from '../validation.js';

/**
 * Neutron's list conventions over rendered views: any filterable attribute as a filter
 * (repeated for "any of"), filter validation, sort_key/sort_dir, limit/marker/page_reverse
 * with `<collection>_links`, and `fields` to trim each item.
 */
type View = Record<string, unknown>;

const RESERVED = new Set(['fields', 'limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir']);

function listOf(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Neutron's convert_to_boolean, for filter values such as shared=True. */
function asBool(s: string): boolean | null {
  const l = s.toLowerCase();
  if (l === 'true' || l === '1') return true;
  if (l === 'false' || l === '0') return false;
  return null;
}

function matches(actual: unknown, wanted: string, key: string): boolean {
  if (key === 'fixed_ips') {
    // fixed_ips=ip_address=10.0.0.3 / fixed_ips=subnet_id=…
    const [k, ...rest] = wanted.split('=');
    const val = rest.join('=');
    return Array.isArray(actual) && actual.some((ip) => (ip as Record<string, unknown>)[k] === val);
  }
  if (Array.isArray(actual)) return actual.includes(wanted);
  if (typeof actual === 'boolean') return asBool(wanted) === actual;
  if (typeof actual === 'number') return Number(wanted) === actual;
  if (actual === null) return wanted === '' || wanted === 'None';
  return String(actual) === wanted;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a) < String(b) ? -1 : 1;
}

/** Only the asked-for fields of a view (GET …?fields=id&fields=name). */
export function pickFields(request: FastifyRequest, view: View): View {
  const fields = (queryLists(request).fields ?? []).filter(Boolean);
  if (!fields.length) return view;
  return Object.fromEntries(Object.entries(view).filter(([k]) => fields.includes(k)));
}

export interface ListOptions {
  collection: string;
  filterable: string[];
  sortable: string[];
  /** The URL of the collection, for pagination links. */
  href: string;
}

export function renderList(request: FastifyRequest, views: View[], opts: ListOptions): Record<string, unknown> {
  // Neutron reads every value of a repeated parameter: a filter matches any of them.
  const query = queryLists(request);
  const invalid: string[] = [];
  let items = views;
  for (const [key, raw] of Object.entries(query)) {
    if (RESERVED.has(key)) continue;
    const values = listOf(raw).filter((v) => v !== '');
    if (!opts.filterable.includes(key)) {
      invalid.push(key);
      continue;
    }
    if (!values.length) continue;
    const attr = key === 'tenant_id' ? 'project_id' : key;
    items = items.filter((item) => values.some((v) => matches(item[attr], v, attr)));
  }
  if (invalid.length) throw badRequest(`${pyRepr(invalid)} is invalid attribute for filtering`);

  const keys = listOf(query.sort_key).filter(Boolean);
  const dirs = listOf(query.sort_dir).filter(Boolean);
  if (keys.length !== dirs.length) throw badRequest('The number of sort_keys and sort_dirs must be same');
  const absent = keys.filter((k) => !opts.sortable.includes(k));
  if (absent.length) throw badRequest(`${pyRepr(absent)} is invalid attribute for sort_keys`);
  const badDirs = dirs.filter((d) => d !== 'asc' && d !== 'desc');
  if (badDirs.length) throw badRequest(`${pyRepr(badDirs)} is invalid value for sort_dirs, valid value is 'asc' and 'desc'`);
  if (keys.length) {
    items = [...items].sort((a, b) => {
      for (let i = 0; i < keys.length; i++) {
        const c = compare(a[keys[i]], b[keys[i]]);
        if (c) return dirs[i] === 'desc' ? -c : c;
      }
      return compare(a.id, b.id);
    });
  }

  let pageLinks: { rel: string; href: string }[] | undefined;
  const limitText = query.limit === undefined ? '0' : String(listOf(query.limit)[0]);
  if (!/^\d+$/.test(limitText)) throw badRequest(`Bad limit request: Limit must be an integer 0 or greater and not '${limitText}'.`);
  const limit = Number(limitText);
  const marker = listOf(query.marker)[0];
  const reverse = asBool(listOf(query.page_reverse)[0] ?? 'false') === true;
  if (limit > 0 || marker) {
    const at = marker ? items.findIndex((i) => i.id === marker) : -1;
    let page: View[];
    let more: boolean;
    if (reverse) {
      const end = at >= 0 ? at : items.length;
      const start = limit > 0 ? Math.max(0, end - limit) : 0;
      page = items.slice(start, end);
      more = start > 0;
    } else {
      const start = at + 1;
      page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
      more = limit > 0 && start + limit < items.length;
    }
    const links: { rel: string; href: string }[] = [];
    const link = (params: Record<string, string>) => {
      const qs = new URLSearchParams();
      for (const [k, raw] of Object.entries(query)) {
        if (k === 'marker' || k === 'page_reverse') continue;
        for (const v of listOf(raw)) qs.append(k, v);
      }
      for (const [k, v] of Object.entries(params)) qs.append(k, v);
      return `${opts.href}?${qs.toString()}`;
    };
    if (page.length) {
      const nextMarker = String(page[page.length - 1].id);
      const prevMarker = String(page[0].id);
      if (reverse ? at >= 0 : more) links.push({ rel: 'next', href: link({ marker: nextMarker }) });
      if (reverse ? more : !!marker) links.push({ rel: 'previous', href: link({ marker: prevMarker, page_reverse: 'True' }) });
    }
    items = page;
    if (links.length) pageLinks = links;
  }
  const out: Record<string, unknown> = { [opts.collection]: items.map((i) => pickFields(request, i)) };
  if (pageLinks) out[`${opts.collection}_links`] = pageLinks;
  return out;
}
