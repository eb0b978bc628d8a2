import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { IngestError } from './errors';

/** Default maximum age of the cached secret, in seconds. */
const DEFAULT_SECRET_MAX_AGE_SECS = 300;

/** Pattern of a Cognito user pool id, whose prefix is the pool's region. */
const USER_POOL_ID_PATTERN = /^([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$/;
const REGION_PATTERN = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

/**
 * Service credentials of the Cognito user that writes to the STAC API, as
 * stored in the Secrets Manager secret.
 */
export interface ServiceCredentials {
  readonly username: string;
  readonly password: string;
  /** Cognito app client id. */
  readonly clientId: string;
  /** App client secret, present only when the app client has one. */
  readonly clientSecret?: string;
  /** Region of the user pool, given or taken from `userPoolId`. */
  readonly region: string;
  readonly userPoolId?: string;
}

/** Secret that cannot be read or whose content is invalid. */
export class SecretError extends IngestError {
  // A fixed secret makes the next delivery succeed, so records are retried.
  readonly retryable = true;
}

/**
 * Parses and validates the secret's JSON. Every missing or invalid field is
 * reported in one error, which names the fields but never their values.
 */
function parseServiceCredentials(secretString: string, secretId: string): ServiceCredentials {
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new SecretError(
      `Secret ${secretId} is not valid JSON: store an object with the fields username, password, clientId, clientSecret (optional) and region or userPoolId.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SecretError(
      `Secret ${secretId} must contain a JSON object with the fields username, password, clientId, clientSecret (optional) and region or userPoolId.`,
    );
  }

  const fields = value as Record<string, unknown>;
  const problems: string[] = [];
  const readString = (name: string, required: boolean): string | undefined => {
    const field = fields[name];
    if (field === undefined || field === null) {
      if (required) problems.push(`${name} is missing`);
      return undefined;
    }
    if (typeof field !== 'string' || field.trim() === '') {
      problems.push(`${name} must be a non-empty string`);
      return undefined;
    }
    return field;
  };

  const username = readString('username', true);
  const password = readString('password', true);
  const clientId = readString('clientId', true);
  const clientSecret = readString('clientSecret', false);
  const userPoolId = readString('userPoolId', false);
  let region = readString('region', false);

  const poolRegion = userPoolId?.match(USER_POOL_ID_PATTERN)?.[1];
  if (userPoolId !== undefined && poolRegion === undefined) {
    problems.push('userPoolId must look like <region>_<id>, for example eu-central-1_AbCdEf123');
  }
  if (region !== undefined && !REGION_PATTERN.test(region)) {
    problems.push('region must be an AWS region name such as eu-central-1');
  } else if (region !== undefined && poolRegion !== undefined && region !== poolRegion) {
    problems.push('region does not match the region prefix of userPoolId');
  }
  if (region === undefined && userPoolId === undefined) {
    problems.push('region or userPoolId is missing');
  }
  region = region ?? poolRegion;

  if (problems.length > 0 || !username || !password || !clientId || !region) {
    throw new SecretError(`Secret ${secretId} is invalid: ${problems.join('; ')}.`);
  }
  return { username, password, clientId, clientSecret, region, userPoolId };
}

/** Options of {@link SecretStore}. */
export interface SecretStoreOptions {
  readonly client: SecretsManagerClient;
  /** Name or ARN of the secret. */
  readonly secretId: string;
  /** Maximum age of the cached value in seconds. @default 300 */
  readonly maxAgeSecs?: number;
  /** Clock in milliseconds, replaceable in tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Reads the service credentials from Secrets Manager and caches them for at
 * most `maxAgeSecs`, so a warm container reads the secret once per period.
 * Concurrent callers share one request.
 */
class SecretStore {
  readonly secretId: string;
  private readonly client: SecretsManagerClient;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private cached?: { value: Promise<ServiceCredentials>; fetchedAt: number };
  private reads = 0;

  constructor(options: SecretStoreOptions) {
    this.client = options.client;
    this.secretId = options.secretId;
    this.maxAgeMs = (options.maxAgeSecs ?? DEFAULT_SECRET_MAX_AGE_SECS) * 1000;
    this.now = options.now ?? Date.now;
  }

  /** Number of GetSecretValue requests sent so far. */
  get readCount(): number {
    return this.reads;
  }

  /** Returns the credentials, from the cache while it is younger than the maximum age. */
  get(): Promise<ServiceCredentials> {
    const now = this.now();
    if (this.cached !== undefined && now - this.cached.fetchedAt < this.maxAgeMs) {
      return this.cached.value;
    }

    const value = this.fetch();
    this.cached = { value, fetchedAt: now };
    // A failed read must not stay cached: the next call tries again.
    value.catch(() => {
      if (this.cached?.value === value) this.cached = undefined;
    });
    return value;
  }

  /** Drops the cached value, for example after Cognito rejected the password. */
  invalidate(): void {
    this.cached = undefined;
  }

  private async fetch(): Promise<ServiceCredentials> {
    this.reads += 1;
    let secretString: string | undefined;
    try {
      const output = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
      secretString = output.SecretString;
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      throw new SecretError(
        `Reading secret ${this.secretId} failed (${name}): check that it exists and that the function may read it.`,
        { cause: error },
      );
    }
    if (secretString === undefined) {
      throw new SecretError(
        `Secret ${this.secretId} has no string value: store the credentials as a JSON string, not as binary.`,
      );
    }
    return parseServiceCredentials(secretString, this.secretId);
  }
}

export { DEFAULT_SECRET_MAX_AGE_SECS, parseServiceCredentials, SecretStore };
