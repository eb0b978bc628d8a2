import { ConfigurationError, InvalidKeyError } from './errors';
import { ASSET_ID_EXTENSIONS } from './media-types';
import type { AssetTarget } from './types';

/**
 * Key layouts used when none are configured: `{collection}/{item}/{asset}` for an item asset,
 * then `{collection}/{asset}` for a collection asset.
 */
export const DEFAULT_KEY_LAYOUTS = '{collection}/{item}/{asset},{collection}/{asset}';

/** One `/`-separated segment of a key layout. */
export type KeyLayoutSegment =
  | { readonly kind: 'collection' }
  | { readonly kind: 'item' }
  | { readonly kind: 'asset' }
  /** `*`: any one key segment, ignored. */
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'literal'; readonly value: string };

/** A parsed key layout, such as `{collection}/{item}/{asset}`. */
export interface KeyLayout {
  /** The layout as written in the configuration. */
  readonly template: string;
  readonly segments: readonly KeyLayoutSegment[];
}

/** Rule the STAC API applies to collection, item and asset ids. */
const ID_PATTERN = /^[0-9a-z\-_.]+$/;
const ID_RULE = 'ids may contain only lowercase letters a-z, digits, "-", "_" and "."';

const PLACEHOLDERS: Readonly<Record<string, KeyLayoutSegment>> = {
  '{collection}': { kind: 'collection' },
  '{item}': { kind: 'item' },
  '{asset}': { kind: 'asset' },
  '*': { kind: 'wildcard' },
};

/**
 * Parses a comma-separated list of key layouts, which {@link resolveTarget} tries in order.
 *
 * A layout is a `/`-separated template of segments: `{collection}`, `{item}`, `{asset}`, `*`
 * (any one segment, ignored) or a literal that the key segment must equal. Each layout needs
 * exactly one `{collection}` and one `{asset}`, at most one `{item}`, and `{asset}` last.
 * A layout without `{item}` yields collection assets.
 *
 * @param spec - layouts such as {@link DEFAULT_KEY_LAYOUTS}; spaces around commas are ignored
 * @throws ConfigurationError listing every invalid layout and its problem, including a layout
 *   that an earlier one shadows because it matches every key the later one would
 */
export function parseKeyLayouts(spec: string): KeyLayout[] {
  const templates = spec.split(',').map((template) => template.trim());
  const problems: string[] = [];
  const layouts: KeyLayout[] = [];

  for (const template of templates) {
    const layoutProblems = findTemplateProblems(template);
    if (layoutProblems.length > 0) {
      problems.push(`"${template}": ${layoutProblems.join(', ')}`);
      continue;
    }

    const layout: KeyLayout = { template, segments: template.split('/').map(parseSegment) };
    const shadowing = layouts.find((earlier) => shadows(earlier, layout));
    if (shadowing !== undefined) {
      problems.push(
        `"${template}": never used, because the earlier layout "${shadowing.template}" ` +
          'matches every key it matches',
      );
      continue;
    }
    layouts.push(layout);
  }

  if (problems.length > 0) {
    throw new ConfigurationError(
      `Invalid key layouts "${spec}": ${problems.join('; ')}. Give a comma-separated list of ` +
        '/-separated templates made of {collection}, {item}, {asset}, * and literal segments, ' +
        `for example "${DEFAULT_KEY_LAYOUTS}".`,
    );
  }
  return layouts;
}

/**
 * Finds the collection, item and asset ids of an object key with the first layout that
 * matches it, and checks the ids as the STAC API does.
 *
 * @param key - decoded object key, not a folder marker
 * @param layouts - layouts from {@link parseKeyLayouts}, tried in order
 * @param assetIdOverride - asset id from the `asset-id` user metadata, used in place of the
 *   key's `{asset}` segment and checked the same way
 * @throws InvalidKeyError when no layout matches, or when an id breaks the API's rules: only
 *   `0-9a-z-_.` and, for the asset id, an extension that the API accepts
 */
export function resolveTarget(
  key: string,
  layouts: readonly KeyLayout[],
  assetIdOverride?: string,
): AssetTarget {
  const keySegments = key.split('/');
  const layout = layouts.find((candidate) => matches(candidate, keySegments));
  if (layout === undefined) {
    const reasons = layouts.map(
      (candidate) => `"${candidate.template}": ${describeMismatch(candidate, keySegments)}`,
    );
    throw new InvalidKeyError(
      `Object key "${key}" matches no key layout (${reasons.join('; ')}). ` +
        'Upload the object again under a key that matches one of the layouts.',
    );
  }

  let collection = '';
  let item: string | undefined;
  let asset = '';
  layout.segments.forEach((segment, index) => {
    if (segment.kind === 'collection') collection = keySegments[index];
    if (segment.kind === 'item') item = keySegments[index];
    if (segment.kind === 'asset') asset = keySegments[index];
  });

  checkId(key, 'collection', collection);
  if (item !== undefined) {
    checkId(key, 'item', item);
  }
  if (assetIdOverride === undefined) {
    checkAssetId(key, asset, 'key');
  } else {
    checkAssetId(key, assetIdOverride, 'override');
    asset = assetIdOverride;
  }

  return item === undefined ? { collection, asset } : { collection, item, asset };
}

/**
 * Suggests an id that follows the API's rules: German umlauts become ae, oe and ue, other
 * diacritics are dropped, letters are lowercased and runs of other characters become `-`.
 */
function suggestId(value: string): string {
  return value
    .replace(/[äÄ]/g, 'ae')
    .replace(/[öÖ]/g, 'oe')
    .replace(/[üÜ]/g, 'ue')
    .replace(/ß/g, 'ss')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^0-9a-z\-_.]+/g, '-')
    .replace(/-*\.-*/g, '.')
    .replace(/^-+|-+$/g, '');
}

function checkId(key: string, kind: 'collection' | 'item', id: string): void {
  // The pattern allows "." and "..", but URLs resolve them as path steps, so a request for
  // such an id would reach another resource.
  if (id === '.' || id === '..') {
    throw new InvalidKeyError(
      `Invalid ${kind} id "${id}" in object key "${key}": an id cannot be "." or "..", because URLs treat them as path steps. Use the ${kind} id itself in the key.`,
    );
  }
  if (ID_PATTERN.test(id)) {
    return;
  }
  const suggestion = suggestId(id);
  const fix = ID_PATTERN.test(suggestion)
    ? `Use a valid ${kind} id in the key, for example "${suggestion}".`
    : `Use a valid ${kind} id in the key.`;
  throw new InvalidKeyError(
    `Invalid ${kind} id ${describeId(id)} in object key "${key}": ${ID_RULE}. ${fix}`,
  );
}

function checkAssetId(key: string, id: string, source: 'key' | 'override'): void {
  const where =
    source === 'key'
      ? `in object key "${key}"`
      : `from the "asset-id" user metadata of object "${key}"`;
  const extension = id.includes('.') ? id.slice(id.lastIndexOf('.')) : '';
  const validCharacters = ID_PATTERN.test(id);
  const validExtension = ASSET_ID_EXTENSIONS.has(extension);
  if (validCharacters && validExtension) {
    return;
  }

  const rules: string[] = [];
  if (!validCharacters) {
    rules.push(ID_RULE);
  }
  if (!validExtension) {
    rules.push(
      `an asset id must end in a file extension that the API accepts (${[...ASSET_ID_EXTENSIONS].join(', ')})`,
    );
  }

  const suggestion = suggestId(id);
  const suggestionExtension = suggestion.slice(suggestion.lastIndexOf('.'));
  const suggestionIsValid =
    ID_PATTERN.test(suggestion) &&
    suggestion.includes('.') &&
    ASSET_ID_EXTENSIONS.has(suggestionExtension);
  const validId = suggestionIsValid ? `"${suggestion}"` : 'a valid asset id';
  const fix =
    source === 'key'
      ? `Rename the file to ${validId}, or set the "asset-id" user metadata to a valid asset id.`
      : `Set the "asset-id" user metadata to ${validId}.`;
  throw new InvalidKeyError(
    `Invalid asset id ${describeId(id)} ${where}: ${rules.join(', and ')}. ${fix}`,
  );
}

function describeId(id: string): string {
  return id === '' ? '"" (empty)' : `"${id}"`;
}

function findTemplateProblems(template: string): string[] {
  if (template === '') {
    return ['the layout is empty'];
  }

  const problems: string[] = [];
  const segments = template.split('/');
  if (segments.some((segment) => segment === '')) {
    problems.push('empty segment');
  }
  for (const segment of segments) {
    if (PLACEHOLDERS[segment] === undefined && /[{}*]/.test(segment)) {
      problems.push(
        `unknown segment "${segment}" (placeholders are {collection}, {item}, {asset} and *)`,
      );
    }
  }

  const count = (placeholder: string) => segments.filter((s) => s === placeholder).length;
  if (count('{collection}') !== 1) {
    problems.push(`needs exactly one {collection}, found ${count('{collection}')}`);
  }
  if (count('{asset}') !== 1) {
    problems.push(`needs exactly one {asset}, found ${count('{asset}')}`);
  } else if (segments[segments.length - 1] !== '{asset}') {
    problems.push('{asset} must be the last segment');
  }
  if (count('{item}') > 1) {
    problems.push(`allows at most one {item}, found ${count('{item}')}`);
  }
  return problems;
}

function parseSegment(segment: string): KeyLayoutSegment {
  return PLACEHOLDERS[segment] ?? { kind: 'literal', value: segment };
}

function matches(layout: KeyLayout, keySegments: readonly string[]): boolean {
  return (
    layout.segments.length === keySegments.length &&
    layout.segments.every(
      (segment, index) => segment.kind !== 'literal' || segment.value === keySegments[index],
    )
  );
}

/** Returns true when `earlier` matches every key that `later` matches, so `later` is never used. */
function shadows(earlier: KeyLayout, later: KeyLayout): boolean {
  return (
    earlier.segments.length === later.segments.length &&
    earlier.segments.every((segment, index) => {
      const laterSegment = later.segments[index];
      if (segment.kind !== 'literal') {
        return true;
      }
      return laterSegment.kind === 'literal' && laterSegment.value === segment.value;
    })
  );
}

function describeMismatch(layout: KeyLayout, keySegments: readonly string[]): string {
  if (layout.segments.length !== keySegments.length) {
    return `expects ${layout.segments.length} segments, the key has ${keySegments.length}`;
  }
  for (const [index, segment] of layout.segments.entries()) {
    if (segment.kind === 'literal' && segment.value !== keySegments[index]) {
      return `segment ${index + 1} is "${keySegments[index]}", expected "${segment.value}"`;
    }
  }
  return 'matches';
}
