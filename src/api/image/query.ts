import { invalid } from '../../errors.js';
import { SORT_KEYS, VISIBILITIES, type FilterOp, type ImageQuery, type SortKey } from '../../image/images.js';

/** Glance's limit_param_default and api_limit_max. */
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

const MATCH_WITH_OPERATOR = ['name', 'id', 'status', 'container_format', 'disk_format'] as const;
const MATCH_EXACT = ['owner', 'checksum', 'os_hash_value'] as const;
const COMPARISONS: FilterOp[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'];
const ISO_8601 = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/;

/** Python's int() of a query value, or undefined when it is not one. */
function pyInt(value: string): number | undefined {
  return /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : undefined;
}

/** "op:value", or a bare value meaning eq; an ISO 8601 date's colons are not an operator. */
function splitFilterOp(expression: string): [string, string] {
  const i = expression.indexOf(':');
  if (i < 0 || ISO_8601.test(expression)) return ['eq', expression];
  return [expression.slice(0, i), expression.slice(i + 1)];
}

/** The `in:` list: comma separated, double quotes around values that hold commas. */
function splitInValues(list: string): string[] {
  const out: string[] = [];
  const re = /"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,/g;
  for (const m of list.matchAll(re)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

function sortKey(key: string): SortKey {
  if (!(SORT_KEYS as readonly string[]).includes(key)) {
    throw invalid(`Invalid sort key: ${key}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
  }
  return key as SortKey;
}

function sortDir(dir: string): 'asc' | 'desc' {
  if (dir !== 'asc' && dir !== 'desc') throw invalid(`Invalid sort direction: ${dir}`);
  return dir;
}

function parseSort(params: URLSearchParams): ImageQuery['sort'] {
  const keys = params.getAll('sort_key');
  const dirs = params.getAll('sort_dir');
  if (params.has('sort')) {
    if (keys.length || dirs.length) throw invalid('Old and new sorting syntax cannot be combined');
    return params
      .get('sort')!
      .trim()
      .split(',')
      .map((part) => {
        const [key, dir] = part.split(':', 2);
        return { key: sortKey(key.trim()), dir: sortDir((dir || 'desc').trim()) };
      });
  }
  const sortKeys = keys.map((k) => sortKey(k.trim()));
  const sortDirs = dirs.map((d) => sortDir(d.trim()));
  if (sortDirs.length > 1 && sortDirs.length !== sortKeys.length) throw invalid('Number of sort dirs does not match the number of sort keys');
  if (!sortKeys.length) sortKeys.push('created_at');
  // One direction applies to every key; none means desc.
  return sortKeys.map((key, i) => ({ key, dir: sortDirs.length > 1 ? sortDirs[i] : (sortDirs[0] ?? 'desc') }));
}

function booleanFilter(name: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v !== 'true' && v !== 'false') throw invalid(`Invalid value '${value}' for '${name}' filter. Valid values are 'true' or 'false'.`);
  return v === 'true';
}

function timeFilter(name: string, value: string): { op: FilterOp; at: Date } {
  const [op, time] = splitFilterOp(value);
  if (!ISO_8601.test(time) || Number.isNaN(Date.parse(time))) throw invalid(`Bad "${name}" query filter format. Use ISO 8601 DateTime notation.`);
  if (!COMPARISONS.includes(op as FilterOp)) throw invalid('Unable to filter on a unknown operator.');
  return { op: op as FilterOp, at: new Date(time) };
}

/**
 * GET /v2/images parameters, as Glance reads them: paging and sorting, filters on core
 * attributes (some with `in:`), and any other parameter filters on a custom property.
 */
export function parseImageQuery(params: URLSearchParams): ImageQuery {
  const query: ImageQuery = { limit: DEFAULT_LIMIT, sort: parseSort(params), match: {} };
  const limit = params.get('limit');
  if (limit !== null) {
    const n = pyInt(limit);
    if (n === undefined) throw invalid('limit param must be an integer');
    if (n < 0) throw invalid('limit param must be positive');
    query.limit = Math.min(n, MAX_LIMIT);
  }
  const marker = params.get('marker');
  if (marker !== null) query.marker = marker;
  const memberStatus = params.get('member_status');
  if (memberStatus !== null && !['pending', 'accepted', 'rejected', 'all'].includes(memberStatus)) throw invalid(`Invalid status: ${memberStatus}`);
  const tags = params.getAll('tag').map((t) => t.trim());
  if (tags.length) query.tags = tags;

  const handled = new Set(['limit', 'marker', 'member_status', 'tag', 'sort', 'sort_key', 'sort_dir']);
  // A repeated filter takes its last value, as webob's MultiDict gives it.
  const filters = new Map<string, string>();
  for (const [key, value] of params) if (!handled.has(key)) filters.set(key, value);

  for (const [key, value] of filters) {
    if (key === 'visibility') {
      if (value === '') continue;
      if (value !== 'all' && !(VISIBILITIES as readonly string[]).includes(value)) throw invalid(`Invalid visibility value: ${value}`);
      query.visibility = value as ImageQuery['visibility'];
    } else if (key === 'changes-since') {
      if (value) throw invalid('The "changes-since" filter is no longer available on v2.');
    } else if (key === 'os_hidden') {
      query.osHidden = booleanFilter(key, value);
    } else if (key === 'protected') {
      query.protected = booleanFilter(key, value);
    } else if (key === 'size_min' || key === 'size_max') {
      const n = pyInt(value);
      if (n === undefined) throw invalid('Unable to filter on a range with a non-numeric value.');
      if (key === 'size_min') query.sizeMin = n;
      else query.sizeMax = n;
    } else if (key === 'created_at' || key === 'updated_at') {
      query[key === 'created_at' ? 'createdAt' : 'updatedAt'] = timeFilter(key, value);
    } else if ((MATCH_WITH_OPERATOR as readonly string[]).includes(key)) {
      const [op, operand] = splitFilterOp(value);
      if (op === 'in') query.match![key as (typeof MATCH_WITH_OPERATOR)[number]] = splitInValues(operand);
      else if (op === 'eq') query.match![key as (typeof MATCH_WITH_OPERATOR)[number]] = [operand];
      else throw invalid(`Unable to filter by unknown operator '${op}'.`);
    } else if ((MATCH_EXACT as readonly string[]).includes(key)) {
      query.match![key as (typeof MATCH_EXACT)[number]] = [value];
    } else {
      (query.properties ??= {})[key] = value;
    }
  }
  return query;
}
