import { UnsupportedMediaTypeError } from '../../lambdas/ingest/errors';
import { MEDIA_TYPES, normalizeMediaType } from '../../lambdas/ingest/media-types';
import { validationError } from './http';

/** Allowed asset id extensions of each supported media type, by normalized media type. */
const EXTENSIONS_BY_MEDIA_TYPE: ReadonlyMap<string, readonly string[]> = new Map(
  MEDIA_TYPES.map((entry) => [entry.mediaType, entry.extensions]),
);

/** Collection, item and asset ids: lowercase letters, digits, `-`, `_` and `.`. */
export const ID_PATTERN = /^[0-9a-z-_.]+$/;

/** sha2-256 multihash in hex: code 0x12, length 0x20, then 32 digest bytes. */
const SHA256_MULTIHASH_PATTERN = /^1220[0-9a-f]{64}$/i;

/** Maximum number of parts of one upload, and the highest part number. */
export const MAX_PARTS = 100;

/** Values accepted for an upload's `content_encoding`. */
export const CONTENT_ENCODINGS = ['gzip', 'br'] as const;

const GEOADMIN_LANGS = ['de', 'fr', 'it', 'rm', 'en'];
const GEOADMIN_VARIANT_PATTERN = /^([a-zA-Z0-9]+\s)*[a-zA-Z0-9]+$/;

/** Rejects with a 400 naming `field` unless `id` is a valid collection, item or asset id. */
export function validateId(field: string, id: unknown): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw validationError(
      field,
      `Invalid id ${JSON.stringify(id)}, only the following characters are allowed: 0-9a-z-_.`,
    );
  }
  return id;
}

/**
 * Validates an asset's media type and the extension of its id against it.
 * Returns the normalized media type.
 */
export function validateMediaType(assetId: string, mediaType: unknown): string {
  if (typeof mediaType !== 'string') {
    throw validationError('type', 'This field is required and must be a string.');
  }
  let normalized: string;
  try {
    normalized = normalizeMediaType(mediaType);
  } catch (error) {
    if (error instanceof UnsupportedMediaTypeError) {
      throw validationError('type', `Invalid media type "${mediaType}"`);
    }
    throw error;
  }
  const extensions = EXTENSIONS_BY_MEDIA_TYPE.get(normalized) ?? [];
  const dot = assetId.lastIndexOf('.');
  const extension = dot < 0 ? '' : assetId.slice(dot);
  if (!extensions.includes(extension)) {
    throw validationError(
      'id',
      `Invalid id extension '${extension}', id must match its media type ${normalized}`,
    );
  }
  return normalized;
}

/** Returns whether `value` is a sha2-256 multihash in hex, in either case. */
export function isSha256Multihash(value: unknown): value is string {
  return typeof value === 'string' && SHA256_MULTIHASH_PATTERN.test(value);
}

/** Optional asset fields that PUT and PATCH accept, besides `id` and `type`. */
export interface AssetOptionalFields {
  title?: string;
  description?: string;
  roles?: string[];
  'proj:epsg'?: number;
  gsd?: number;
  'geoadmin:variant'?: string;
  'geoadmin:lang'?: string;
}

const OPTIONAL_FIELD_CHECKS: Record<keyof AssetOptionalFields, (value: unknown) => string | null> =
  {
    title: (value) =>
      typeof value === 'string' && value.length >= 1 && value.length <= 255
        ? null
        : 'Must be a string of 1 to 255 characters.',
    description: (value) => (typeof value === 'string' ? null : 'Must be a string.'),
    roles: (value) =>
      Array.isArray(value) && value.every((role) => typeof role === 'string')
        ? null
        : 'Must be a list of strings.',
    'proj:epsg': (value) => (Number.isInteger(value) ? null : 'Must be an integer.'),
    gsd: (value) =>
      typeof value === 'number' && value > 0 ? null : 'Must be a number greater than 0.',
    'geoadmin:variant': (value) =>
      typeof value === 'string' && GEOADMIN_VARIANT_PATTERN.test(value)
        ? null
        : 'Must contain only letters and digits, with single spaces between words.',
    'geoadmin:lang': (value) =>
      typeof value === 'string' && GEOADMIN_LANGS.includes(value)
        ? null
        : `Must be one of ${GEOADMIN_LANGS.join(', ')}.`,
  };

/**
 * Validates the optional asset fields present in `body`. A `null` value means "remove
 * the field" and is returned as null. Fields not listed in {@link AssetOptionalFields}
 * are ignored, which includes the read-only `file:checksum`, `created`, `updated` and `links`.
 */
export function validateAssetOptionalFields(
  body: Record<string, unknown>,
): Partial<Record<keyof AssetOptionalFields, unknown>> {
  const fields: Partial<Record<keyof AssetOptionalFields, unknown>> = {};
  for (const [field, check] of Object.entries(OPTIONAL_FIELD_CHECKS)) {
    if (!(field in body)) {
      continue;
    }
    const value = body[field];
    if (value !== null) {
      const problem = check(value);
      if (problem !== null) {
        throw validationError(field, problem);
      }
    }
    fields[field as keyof AssetOptionalFields] = value;
  }
  return fields;
}

/** Validated body of a create-upload request. */
export interface UploadCreateRequest {
  numberParts: number;
  /** Base64 MD5 of each part, indexed by part number minus one. */
  md5Parts: string[];
  checksum: string;
  contentEncoding?: (typeof CONTENT_ENCODINGS)[number];
}

function isBase64Md5(value: unknown): value is string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(value)) {
    return false;
  }
  return Buffer.from(value, 'base64').length === 16;
}

/**
 * Validates `number_parts` (1 to 100), `md5_parts` (one valid base64 MD5 per part,
 * no duplicates), `file:checksum` and the optional `content_encoding`.
 */
export function validateUploadCreate(body: Record<string, unknown>): UploadCreateRequest {
  const numberParts = body.number_parts;
  if (!Number.isInteger(numberParts) || (numberParts as number) < 1) {
    throw validationError('number_parts', 'Must be an integer greater than or equal to 1.');
  }
  if ((numberParts as number) > MAX_PARTS) {
    throw validationError('number_parts', `Must be an integer less than or equal to ${MAX_PARTS}.`);
  }
  const count = numberParts as number;

  const md5PartsValue = body.md5_parts;
  if (!Array.isArray(md5PartsValue)) {
    throw validationError('md5_parts', 'This field is required and must be a list.');
  }
  if (md5PartsValue.length !== count) {
    throw validationError(
      'md5_parts',
      `Missing, too many or duplicate part_number in md5_parts field list: list should have ${count} item(s).`,
    );
  }
  const md5Parts: string[] = new Array(count);
  md5PartsValue.forEach((entry: unknown, index) => {
    const item = entry as Record<string, unknown> | null;
    if (item === null || typeof item !== 'object') {
      throw validationError('md5_parts', `Invalid md5_parts[${index}] value: must be an object.`);
    }
    const partNumber = item.part_number;
    if (
      !Number.isInteger(partNumber) ||
      (partNumber as number) < 1 ||
      (partNumber as number) > count
    ) {
      throw validationError(
        'md5_parts',
        `Invalid md5_parts[${index}].part_number value: part_number must be an integer between 1 and ${count}.`,
      );
    }
    if (md5Parts[(partNumber as number) - 1] !== undefined) {
      throw validationError(
        'md5_parts',
        `Invalid md5_parts[${index}].part_number value: duplicate part_number ${partNumber}.`,
      );
    }
    if (!isBase64Md5(item.md5)) {
      throw validationError(
        'md5_parts',
        `Invalid md5_parts[${index}].md5 value: must be the base64 encoding of a 16-byte MD5 digest.`,
      );
    }
    md5Parts[(partNumber as number) - 1] = item.md5;
  });

  const checksum = body['file:checksum'];
  if (!isSha256Multihash(checksum)) {
    throw validationError(
      'file:checksum',
      `Invalid multihash value ${JSON.stringify(checksum)}: must be a sha2-256 multihash in hex (1220 followed by 64 hex digits).`,
    );
  }

  const contentEncoding = body.content_encoding;
  if (
    contentEncoding !== undefined &&
    !CONTENT_ENCODINGS.includes(contentEncoding as (typeof CONTENT_ENCODINGS)[number])
  ) {
    throw validationError(
      'content_encoding',
      `Invalid encoding ${JSON.stringify(contentEncoding)}: must be one of ${CONTENT_ENCODINGS.join(', ')}.`,
    );
  }

  return {
    numberParts: count,
    md5Parts,
    checksum,
    contentEncoding: contentEncoding as UploadCreateRequest['contentEncoding'],
  };
}
