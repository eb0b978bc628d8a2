import { ConfigurationError } from './errors';
import { DEFAULT_KEY_LAYOUTS, type KeyLayout, parseKeyLayouts } from './key-layout';
import { DEFAULT_STALE_UPLOAD_AGE_SECS } from './register';
import { DEFAULT_SECRET_MAX_AGE_SECS } from './secret';

const MIB = 1024 * 1024;

/** Function configuration, read from environment variables once per container. */
export interface IngestConfig {
  /** `STAC_API_URL`: root of the STAC API v1. Required. */
  readonly stacApiUrl: string;
  /** `SECRET_ID`: name or ARN of the secret with the service credentials. Required. */
  readonly secretId: string;
  /** `SECRET_MAX_AGE_SECS`: how long the secret is cached. @default 300 */
  readonly secretMaxAgeSecs: number;
  /** `KEY_LAYOUTS`: comma-separated key layouts, tried in order. @default `{collection}/{item}/{asset},{collection}/{asset}` */
  readonly keyLayouts: KeyLayout[];
  readonly keyLayoutsSpec: string;
  /** `PART_SIZE_MIB`: preferred part size; larger files use more parts. @default 64 */
  readonly partSizeBytes: number;
  /** `PART_CONCURRENCY`: parts sent at the same time. @default 4 */
  readonly partConcurrency: number;
  /** `STAC_REQUEST_TIMEOUT_SECS`: time limit of one request to the API. @default 60 */
  readonly requestTimeoutMs: number;
  /**
   * `STALE_UPLOAD_AGE_SECS`: age from which another upload in progress on the same asset is
   * aborted. Keep it above the function timeout plus a margin for clock skew, because a
   * younger upload may belong to a running invocation. @default 960 (15 min + 1 min)
   */
  readonly staleUploadAgeSecs: number;
  /**
   * `DEADLINE_MARGIN_SECS`: no object starts with less time left in the invocation. Requests
   * stop at half of it, so that aborting an upload has the other half. @default 10
   */
  readonly deadlineMarginMs: number;
  /**
   * `DEAD_LETTER_QUEUE_URL`: when set, a message that failed permanently (invalid input) is
   * sent to this queue at once and reported as done. Unset, it is reported as failed and
   * reaches the dead-letter queue through the redrive policy. @default unset
   */
  readonly deadLetterQueueUrl?: string;
}

type Environment = Record<string, string | undefined>;

/**
 * Reads and validates the configuration. Every problem is reported in one
 * ConfigurationError that names the variable and the fix.
 */
export function readConfig(env: Environment = process.env): IngestConfig {
  const problems: string[] = [];

  const readNumber = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" is invalid: set a number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const stacApiUrl = (env.STAC_API_URL ?? '').trim();
  if (stacApiUrl === '') {
    problems.push(
      'STAC_API_URL is missing: set it to the API root, such as https://<host>/api/stac/v1',
    );
  } else if (!isHttpUrl(stacApiUrl)) {
    problems.push(`STAC_API_URL="${stacApiUrl}" is invalid: set an http or https URL`);
  }

  const secretId = (env.SECRET_ID ?? '').trim();
  if (secretId === '') {
    problems.push('SECRET_ID is missing: set it to the name or ARN of the Secrets Manager secret');
  }

  const keyLayoutsSpec = env.KEY_LAYOUTS?.trim() || DEFAULT_KEY_LAYOUTS;
  let keyLayouts: KeyLayout[] = [];
  try {
    keyLayouts = parseKeyLayouts(keyLayoutsSpec);
  } catch (error) {
    problems.push(`KEY_LAYOUTS is invalid: ${error instanceof Error ? error.message : error}`);
  }

  const secretMaxAgeSecs = readNumber(
    'SECRET_MAX_AGE_SECS',
    DEFAULT_SECRET_MAX_AGE_SECS,
    0,
    86_400,
  );
  const partSizeMib = readNumber('PART_SIZE_MIB', 64, 5, 5 * 1024);
  const partConcurrency = readNumber('PART_CONCURRENCY', 4, 1, 32);
  const requestTimeoutSecs = readNumber('STAC_REQUEST_TIMEOUT_SECS', 60, 1, 900);
  const staleUploadAgeSecs = readNumber(
    'STALE_UPLOAD_AGE_SECS',
    DEFAULT_STALE_UPLOAD_AGE_SECS,
    60,
    7 * 86_400,
  );
  const deadlineMarginSecs = readNumber('DEADLINE_MARGIN_SECS', 10, 1, 300);

  const deadLetterQueueUrl = env.DEAD_LETTER_QUEUE_URL?.trim() || undefined;
  if (deadLetterQueueUrl !== undefined && !isHttpUrl(deadLetterQueueUrl)) {
    problems.push(
      `DEAD_LETTER_QUEUE_URL="${deadLetterQueueUrl}" is invalid: set the queue URL, such as https://sqs.<region>.amazonaws.com/<account>/<name>, or leave it unset`,
    );
  }

  if (problems.length > 0) {
    throw new ConfigurationError(`Invalid configuration: ${problems.join('; ')}.`);
  }
  return {
    stacApiUrl: stacApiUrl.replace(/\/+$/, ''),
    secretId,
    secretMaxAgeSecs,
    keyLayouts,
    keyLayoutsSpec,
    partSizeBytes: Math.round(partSizeMib * MIB),
    partConcurrency: Math.floor(partConcurrency),
    requestTimeoutMs: requestTimeoutSecs * 1000,
    staleUploadAgeSecs,
    deadlineMarginMs: deadlineMarginSecs * 1000,
    deadLetterQueueUrl,
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
