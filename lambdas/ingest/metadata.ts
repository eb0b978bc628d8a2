import { InvalidMetadataError, UnsupportedMediaTypeError } from './errors';
import { normalizeMediaType } from './media-types';
import { type AssetMetadata, GEOADMIN_LANGS, type GeoadminLang } from './types';

/**
 * Names of the S3 object user metadata that set asset fields, as they arrive from S3
 * (lowercase, without the `x-amz-meta-` prefix). Other names are ignored.
 */
export const USER_METADATA_NAMES = [
  'title',
  'description',
  'roles',
  'proj-epsg',
  'gsd',
  'geoadmin-variant',
  'geoadmin-lang',
  'media-type',
  'asset-id',
] as const;

/** Name of one S3 object user metadata entry that sets an asset field. */
export type UserMetadataName = (typeof USER_METADATA_NAMES)[number];

/** Asset fields and overrides read from S3 object user metadata. */
export interface ParsedUserMetadata {
  /** Optional asset fields, present only when their metadata entry is set. */
  readonly fields: Omit<AssetMetadata, 'id' | 'type'>;
  /** Normalised media type from `media-type`, which replaces the file name default. */
  readonly mediaType?: string;
  /** Asset id from `asset-id`, which replaces the key's asset segment. */
  readonly assetId?: string;
}

/** Rule the STAC API applies to `geoadmin:variant`. */
const VARIANT_PATTERN = /^([a-zA-Z0-9]+\s)*[a-zA-Z0-9]+$/;
const POSITIVE_INTEGER_PATTERN = /^[1-9][0-9]*$/;
const DECIMAL_PATTERN = /^\+?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** One invalid metadata value, reported with the others in one error. */
interface MetadataProblem {
  readonly name: string;
  readonly value: string;
  readonly rule: string;
}

/**
 * Reads asset fields from S3 object user metadata and checks each value.
 *
 * Values are decoded from RFC 2047 encoded words (`=?UTF-8?B?...?=` or `=?UTF-8?Q?...?=`),
 * because S3 metadata headers carry ASCII only and non-ASCII text arrives in that form. They
 * are then trimmed.
 *
 * `roles` is a comma-separated list, `proj-epsg` a positive integer, `gsd` a number greater
 * than 0, `geoadmin-variant` words of letters and digits separated by single whitespace
 * characters, `geoadmin-lang` one of {@link GEOADMIN_LANGS}, and `media-type` a media type
 * that {@link normalizeMediaType} accepts. Empty values are invalid. Names outside
 * {@link USER_METADATA_NAMES} are ignored.
 *
 * @param metadata - user metadata from `HeadObject`, or undefined when the object has none
 * @param key - object key, named in the error message
 * @throws InvalidMetadataError listing every invalid value with its name and rule
 */
export function parseUserMetadata(
  metadata: Record<string, string> | undefined,
  key: string,
): ParsedUserMetadata {
  const fields: Omit<AssetMetadata, 'id' | 'type'> = {};
  let mediaType: string | undefined;
  let assetId: string | undefined;
  const problems: MetadataProblem[] = [];

  for (const [rawName, rawValue] of Object.entries(metadata ?? {})) {
    const name = rawName.toLowerCase();
    if (!isUserMetadataName(name)) {
      continue;
    }

    let value: string;
    try {
      value = decodeEncodedWords(rawValue).trim();
    } catch (error) {
      if (!(error instanceof EncodedWordError)) throw error;
      problems.push({ name, value: rawValue, rule: error.message });
      continue;
    }
    if (value === '') {
      problems.push({ name, value: rawValue, rule: 'must not be empty' });
      continue;
    }

    const reject = (rule: string) => problems.push({ name, value, rule });
    switch (name) {
      case 'title':
        fields.title = value;
        break;
      case 'description':
        fields.description = value;
        break;
      case 'roles': {
        const roles = value.split(',').map((role) => role.trim());
        if (roles.some((role) => role === '')) {
          reject('must be a comma-separated list of roles without empty entries');
        } else {
          fields.roles = roles;
        }
        break;
      }
      case 'proj-epsg':
        if (POSITIVE_INTEGER_PATTERN.test(value) && Number.isSafeInteger(Number(value))) {
          fields['proj:epsg'] = Number(value);
        } else {
          reject('must be a positive integer EPSG code, for example 2056');
        }
        break;
      case 'gsd': {
        const gsd = Number(value);
        if (DECIMAL_PATTERN.test(value) && Number.isFinite(gsd) && gsd > 0) {
          fields.gsd = gsd;
        } else {
          reject('must be a number greater than 0, in metres');
        }
        break;
      }
      case 'geoadmin-variant':
        if (VARIANT_PATTERN.test(value)) {
          fields['geoadmin:variant'] = value;
        } else {
          reject('must be letters and digits, with single spaces between words');
        }
        break;
      case 'geoadmin-lang':
        if (isGeoadminLang(value)) {
          fields['geoadmin:lang'] = value;
        } else {
          reject(`must be one of ${GEOADMIN_LANGS.join(', ')}`);
        }
        break;
      case 'media-type':
        try {
          mediaType = normalizeMediaType(value);
        } catch (error) {
          if (!(error instanceof UnsupportedMediaTypeError)) throw error;
          reject(error.message);
        }
        break;
      case 'asset-id':
        assetId = value;
        break;
    }
  }

  if (problems.length > 0) {
    const lines = problems.map(
      (problem) => `- ${problem.name} ${JSON.stringify(problem.value)}: ${problem.rule}`,
    );
    throw new InvalidMetadataError(
      `Invalid user metadata on object "${key}":\n${lines.join('\n')}\n` +
        'Upload the object again with valid metadata values (x-amz-meta-<name> headers).',
    );
  }

  return {
    fields,
    ...(mediaType === undefined ? {} : { mediaType }),
    ...(assetId === undefined ? {} : { assetId }),
  };
}

function isUserMetadataName(name: string): name is UserMetadataName {
  return (USER_METADATA_NAMES as readonly string[]).includes(name);
}

function isGeoadminLang(value: string): value is GeoadminLang {
  return (GEOADMIN_LANGS as readonly string[]).includes(value);
}

/** Encoded word that cannot be decoded, and the rule it breaks. */
class EncodedWordError extends Error {}

const ENCODED_WORD_PATTERN = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * Decodes the RFC 2047 encoded words in a value and keeps the text around them. Whitespace
 * between two adjacent encoded words is dropped, as RFC 2047 section 6.2 requires, and the
 * bytes of adjacent words are joined before decoding, so a character split across two words
 * survives.
 *
 * @throws EncodedWordError naming the charset when it is not UTF-8, US-ASCII or ISO-8859-1,
 *   or when the bytes are not valid in that charset
 */
function decodeEncodedWords(value: string): string {
  let decoded = '';
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  let lastIndex = 0;

  const flush = () => {
    if (pending !== undefined) {
      decoded += decodeBytes(Buffer.concat(pending.bytes), pending.charset);
      pending = undefined;
    }
  };

  for (const match of value.matchAll(ENCODED_WORD_PATTERN)) {
    const between = value.slice(lastIndex, match.index);
    const charset = match[1].split('*')[0].toLowerCase();
    const bytes = decodeWordBytes(match[2].toUpperCase(), match[3]);

    if (pending !== undefined && /^\s*$/.test(between) && pending.charset === charset) {
      pending.bytes.push(bytes);
    } else {
      flush();
      // Whitespace between two encoded words is folding, not text.
      if (!(lastIndex > 0 && /^\s*$/.test(between))) {
        decoded += between;
      }
      pending = { charset, bytes: [bytes] };
    }
    lastIndex = match.index + match[0].length;
  }

  flush();
  return decoded + value.slice(lastIndex);
}

function decodeWordBytes(encoding: string, text: string): Buffer {
  if (encoding === 'B') {
    return Buffer.from(text, 'base64');
  }
  // Q encoding: "_" is a space and "=XX" is one byte in hexadecimal.
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    const hex = text.slice(index + 1, index + 3);
    if (character === '_') {
      bytes.push(0x20);
    } else if (character === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      index += 2;
    } else {
      bytes.push(character.charCodeAt(0));
    }
  }
  return Buffer.from(bytes);
}

function decodeBytes(bytes: Buffer, charset: string): string {
  if (charset === 'iso-8859-1' || charset === 'latin1') {
    return bytes.toString('latin1');
  }
  if (charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new EncodedWordError(
      `uses the unsupported charset "${charset}" in an RFC 2047 encoded word ` +
        '(supported: UTF-8, US-ASCII, ISO-8859-1)',
    );
  }
  try {
    // US-ASCII is a subset of UTF-8, so one decoder serves both.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new EncodedWordError(
      `contains bytes that are not valid ${charset} in an RFC 2047 encoded word`,
    );
  }
}
