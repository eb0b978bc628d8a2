import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/** Key layouts the function matches object keys against, in order. */
export const DEFAULT_KEY_LAYOUTS = ['{collection}/{item}/{asset}', '{collection}/{asset}'];

/** Maximum Lambda timeout, in seconds. */
const MAX_FUNCTION_TIMEOUT_SECS = 900;

/** Log retention periods that CloudWatch Logs accepts, in days. */
const LOG_RETENTION_DAYS = Object.values(RetentionDays).filter(
  (value): value is number => typeof value === 'number' && value !== RetentionDays.INFINITE,
);

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** Log level of the ingest function's Powertools logger. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Settings of one stac-ingest deployment. The app reads each of them from the CDK
 * context key of the same name (`-c stacApiUrl=...` or the `context` object in cdk.json).
 */
export interface StacIngestSettings {
  /**
   * Root URL of the STAC API v1, for example `https://data.geo.admin.ch/api/stac/v1`.
   * It must use https, except for `localhost` and `127.0.0.1`.
   */
  readonly stacApiUrl: string;

  /**
   * Complete ARN of the Secrets Manager secret with the STAC API credentials,
   * including the six-character suffix that Secrets Manager appends to the name.
   * Set exactly one of `secretArn` and `secretName`.
   *
   * @default - the secret is found by `secretName`
   */
  readonly secretArn?: string;

  /**
   * Name of the Secrets Manager secret with the STAC API credentials, in the
   * stack's account and region. Set exactly one of `secretArn` and `secretName`.
   *
   * @default - the secret is found by `secretArn`
   */
  readonly secretName?: string;

  /**
   * ARN of the customer-managed KMS key that encrypts the secret. The function
   * may then decrypt with this key, but only through Secrets Manager.
   *
   * @default - the secret uses the AWS-managed key `aws/secretsmanager` and no KMS grant is added
   */
  readonly secretKmsKeyArn?: string;

  /**
   * Time the function caches the secret value before it reads it again, in seconds.
   *
   * @default 300
   */
  readonly secretMaxAgeSecs?: number;

  /**
   * Key layouts that map an object key to a collection, an optional item and an
   * asset id, tried in order. Each layout contains `{collection}` and `{asset}`.
   *
   * @default ['{collection}/{item}/{asset}', '{collection}/{asset}']
   */
  readonly keyLayouts?: string[];

  /**
   * Name of an existing bucket to watch instead of creating one. The stack then
   * adds the event notifications to that bucket and leaves its other settings alone.
   *
   * @default - the stack creates a versioned, encrypted bucket
   */
  readonly existingBucketName?: string;

  /**
   * ARN of the customer-managed KMS key that encrypts the objects of the existing
   * bucket (SSE-KMS). The function may then decrypt with this key, but only through S3.
   * Only valid with `existingBucketName`: the bucket the stack creates uses S3-managed keys.
   *
   * @default - no KMS grant for the bucket's objects
   */
  readonly bucketKmsKeyArn?: string;

  /**
   * Key prefix that objects must start with to be ingested, for example `incoming/`.
   * The function may then read and list only keys under this prefix.
   *
   * @default - objects anywhere in the bucket are ingested
   */
  readonly prefix?: string;

  /**
   * Key suffixes that objects must end with to be ingested, for example `['.tif', '.csv']`.
   * S3 matches suffixes case-sensitively. The stack adds one notification filter per suffix.
   *
   * @default - objects with any suffix are ingested
   */
  readonly suffixes?: string[];

  /**
   * Days after which S3 deletes noncurrent object versions in the created bucket.
   *
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;

  /**
   * Days after which S3 aborts an incomplete multipart upload into the created bucket.
   *
   * @default 7
   */
  readonly abortIncompleteMultipartUploadDays?: number;

  /**
   * Whether the created bucket writes S3 server access logs to a separate log bucket.
   *
   * @default true
   */
  readonly serverAccessLogs?: boolean;

  /**
   * Days after which S3 deletes server access log objects.
   *
   * @default 90
   */
  readonly accessLogExpirationDays?: number;

  /**
   * Size of one part of a multipart upload to the STAC API, in MiB (5 to 5120,
   * the S3 multipart part size limits).
   *
   * @default 64
   */
  readonly partSizeMib?: number;

  /**
   * Memory of the ingest function, in MiB (128 to 10240).
   *
   * @default 1024
   */
  readonly functionMemoryMib?: number;

  /**
   * Timeout of the ingest function, in seconds (1 to 900). The queue visibility
   * timeout is six times this value.
   *
   * @default 900
   */
  readonly functionTimeoutSecs?: number;

  /**
   * Log level of the ingest function.
   *
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * Retention period of the function's log group, in days. It must be one of the
   * values CloudWatch Logs accepts, such as 1, 7, 14, 30, 90, 365.
   *
   * @default 30
   */
  readonly logRetentionDays?: number;

  /**
   * Maximum number of queue messages passed to one invocation (1 to 10).
   *
   * @default 10
   */
  readonly batchSize?: number;

  /**
   * Maximum number of concurrent invocations that the SQS event source starts (2 to 1000,
   * because SQS event sources reject values below 2).
   *
   * @default 2
   */
  readonly maxConcurrency?: number;

  /**
   * Number of receives after which a message moves to the dead-letter queue (1 to 1000).
   *
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * Age of the oldest queue message that raises an alarm, in seconds.
   *
   * @default 3600
   */
  readonly queueAgeAlarmSecs?: number;

  /**
   * E-mail address subscribed to the alarm topic. The address owner has to
   * confirm the subscription before messages arrive.
   *
   * @default - no subscription, the topic has no subscriber
   */
  readonly alarmEmail?: string;
}

/** Settings that stay optional after defaults are applied, because unset has a meaning. */
type OptionalSettingKey =
  | 'secretArn'
  | 'secretName'
  | 'secretKmsKeyArn'
  | 'existingBucketName'
  | 'bucketKmsKeyArn'
  | 'prefix'
  | 'alarmEmail';

/** Settings with every default applied. */
export type ResolvedSettings = Required<Omit<StacIngestSettings, OptionalSettingKey>> &
  Pick<StacIngestSettings, OptionalSettingKey>;

/** Error raised for invalid settings, with one message per problem. */
export class InvalidSettingsError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `Invalid stac-ingest settings (${count}). Set each value with -c KEY=VALUE or in the "context" object of cdk.json:\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
    this.name = 'InvalidSettingsError';
    this.problems = problems;
  }
}

const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Checks each setting and returns one message per problem, each naming the
 * setting and the fix. Returns an empty array for valid settings.
 */
export function findSettingsProblems(settings: Partial<StacIngestSettings>): string[] {
  const problems: string[] = [];
  const problem = (key: keyof StacIngestSettings, message: string) => {
    problems.push(`${key}: ${message}`);
  };

  checkStacApiUrl(settings.stacApiUrl, problems);

  if (settings.secretArn === undefined && settings.secretName === undefined) {
    problems.push(
      'secretArn, secretName: missing. Set exactly one of them to the secret with the STAC API credentials.',
    );
  } else if (settings.secretArn !== undefined && settings.secretName !== undefined) {
    problems.push('secretArn, secretName: both are set. Set exactly one of them.');
  }
  if (settings.secretArn !== undefined && !SECRET_ARN.test(settings.secretArn)) {
    problem(
      'secretArn',
      `invalid value "${settings.secretArn}". Use the complete ARN that ends with the six-character suffix, as printed by "aws secretsmanager describe-secret".`,
    );
  }
  if (settings.secretName !== undefined && !SECRET_NAME.test(settings.secretName)) {
    problem(
      'secretName',
      `invalid value "${settings.secretName}". Use 1 to 512 letters, digits or the characters /_+=.@-.`,
    );
  }
  if (settings.secretKmsKeyArn !== undefined && !KMS_KEY_ARN.test(settings.secretKmsKeyArn)) {
    problem(
      'secretKmsKeyArn',
      `invalid value "${settings.secretKmsKeyArn}". Use a key ARN of the form arn:aws:kms:<region>:<account>:key/<key-id>, not an alias.`,
    );
  }

  if (settings.keyLayouts !== undefined) {
    if (settings.keyLayouts.length === 0) {
      problem('keyLayouts', 'empty list. Give at least one layout or leave it unset.');
    }
    for (const layout of settings.keyLayouts) {
      if (!layout.includes('{collection}') || !layout.includes('{asset}')) {
        problem(
          'keyLayouts',
          `layout "${layout}" lacks {collection} or {asset}. Each layout contains both.`,
        );
      }
      if (layout.includes(',')) {
        problem(
          'keyLayouts',
          `layout "${layout}" contains a comma. Separate layouts by commas only.`,
        );
      }
    }
  }

  if (settings.existingBucketName !== undefined && !BUCKET_NAME.test(settings.existingBucketName)) {
    problem(
      'existingBucketName',
      `invalid bucket name "${settings.existingBucketName}". Use 3 to 63 lowercase letters, digits, dots or hyphens.`,
    );
  }
  if (settings.bucketKmsKeyArn !== undefined) {
    if (!KMS_KEY_ARN.test(settings.bucketKmsKeyArn)) {
      problem(
        'bucketKmsKeyArn',
        `invalid value "${settings.bucketKmsKeyArn}". Use a key ARN of the form arn:aws:kms:<region>:<account>:key/<key-id>, not an alias.`,
      );
    }
    if (settings.existingBucketName === undefined) {
      problem(
        'bucketKmsKeyArn',
        'set without existingBucketName. The bucket the stack creates uses S3-managed keys, so set existingBucketName too or leave bucketKmsKeyArn unset.',
      );
    }
  }
  if (settings.prefix !== undefined) {
    if (settings.prefix === '') {
      problem('prefix', 'empty value. Leave it unset to ingest objects anywhere in the bucket.');
    } else if (settings.prefix.startsWith('/')) {
      problem(
        'prefix',
        `"${settings.prefix}" starts with "/". S3 keys have no leading slash, so remove it.`,
      );
    } else if (settings.prefix.includes('*')) {
      problem('prefix', `"${settings.prefix}" contains "*". A prefix is literal, so remove it.`);
    }
  }
  checkSuffixes(settings.suffixes, problems);

  checkInteger(settings, 'noncurrentVersionExpirationDays', 1, 36500, problems);
  checkInteger(settings, 'abortIncompleteMultipartUploadDays', 1, 36500, problems);
  checkInteger(settings, 'accessLogExpirationDays', 1, 36500, problems);
  checkInteger(settings, 'secretMaxAgeSecs', 0, 86400, problems);
  checkInteger(settings, 'partSizeMib', 5, 5120, problems);
  checkInteger(settings, 'functionMemoryMib', 128, 10240, problems);
  checkInteger(settings, 'functionTimeoutSecs', 1, MAX_FUNCTION_TIMEOUT_SECS, problems);
  checkInteger(settings, 'batchSize', 1, 10, problems);
  checkInteger(settings, 'maxConcurrency', 2, 1000, problems);
  checkInteger(settings, 'maxReceiveCount', 1, 1000, problems);
  checkInteger(settings, 'queueAgeAlarmSecs', 60, 1209600, problems);

  if (settings.logRetentionDays !== undefined) {
    if (!LOG_RETENTION_DAYS.includes(settings.logRetentionDays)) {
      problem(
        'logRetentionDays',
        `invalid value ${settings.logRetentionDays}. Use one of ${LOG_RETENTION_DAYS.join(', ')}.`,
      );
    }
  }
  if (settings.logLevel !== undefined && !LOG_LEVELS.includes(settings.logLevel)) {
    problem(
      'logLevel',
      `invalid value "${settings.logLevel}". Use one of ${LOG_LEVELS.join(', ')}.`,
    );
  }
  if (settings.alarmEmail !== undefined && !EMAIL.test(settings.alarmEmail)) {
    problem('alarmEmail', `invalid e-mail address "${settings.alarmEmail}".`);
  }

  return problems;
}

function checkStacApiUrl(value: string | undefined, problems: string[]): void {
  const example = 'https://<host>/api/stac/v1';
  if (value === undefined || value === '') {
    problems.push(`stacApiUrl: missing. Set it to the STAC API v1 root URL, such as ${example}.`);
    return;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`stacApiUrl: invalid URL "${value}". Use an absolute URL such as ${example}.`);
    return;
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1';
  if (url.protocol === 'http:' && !local) {
    problems.push(
      `stacApiUrl: "${value}" uses http. Use https, because http is allowed only for localhost and 127.0.0.1.`,
    );
  } else if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.push(`stacApiUrl: "${value}" uses ${url.protocol}. Use https.`);
  }
  if (url.username !== '' || url.password !== '') {
    problems.push(
      'stacApiUrl: the URL contains credentials. Remove them and store them in the secret.',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    problems.push(`stacApiUrl: "${value}" has a query or fragment. Use the bare API root URL.`);
  }
}

function checkSuffixes(suffixes: string[] | undefined, problems: string[]): void {
  if (suffixes === undefined) {
    return;
  }
  if (suffixes.length === 0) {
    problems.push('suffixes: empty list. Give at least one suffix or leave it unset.');
    return;
  }
  for (const suffix of suffixes) {
    if (suffix === '') {
      problems.push('suffixes: contains an empty suffix. Remove it.');
    }
  }
  // S3 rejects notification configurations whose filters overlap, and two
  // suffix filters overlap when one suffix ends with the other.
  for (const [i, first] of suffixes.entries()) {
    for (const second of suffixes.slice(i + 1)) {
      if (first !== '' && second !== '' && (first.endsWith(second) || second.endsWith(first))) {
        problems.push(
          `suffixes: "${first}" and "${second}" overlap, which S3 rejects. Keep only the shorter one.`,
        );
      }
    }
  }
}

type IntegerKey = {
  [K in keyof StacIngestSettings]-?: StacIngestSettings[K] extends number | undefined ? K : never;
}[keyof StacIngestSettings];

function checkInteger(
  settings: Partial<StacIngestSettings>,
  key: IntegerKey,
  min: number,
  max: number,
  problems: string[],
): void {
  const value = settings[key];
  if (value === undefined) {
    return;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key}: invalid value ${value}. Use an integer from ${min} to ${max}.`);
  }
}

/**
 * Validates the settings and applies the defaults.
 *
 * @throws InvalidSettingsError listing every problem at once
 */
export function resolveSettings(settings: StacIngestSettings): ResolvedSettings {
  const problems = findSettingsProblems(settings);
  if (problems.length > 0) {
    throw new InvalidSettingsError(problems);
  }
  return {
    ...settings,
    secretMaxAgeSecs: settings.secretMaxAgeSecs ?? 300,
    keyLayouts: settings.keyLayouts ?? DEFAULT_KEY_LAYOUTS,
    suffixes: settings.suffixes ?? [],
    noncurrentVersionExpirationDays: settings.noncurrentVersionExpirationDays ?? 30,
    abortIncompleteMultipartUploadDays: settings.abortIncompleteMultipartUploadDays ?? 7,
    serverAccessLogs: settings.serverAccessLogs ?? true,
    accessLogExpirationDays: settings.accessLogExpirationDays ?? 90,
    partSizeMib: settings.partSizeMib ?? 64,
    functionMemoryMib: settings.functionMemoryMib ?? 1024,
    functionTimeoutSecs: settings.functionTimeoutSecs ?? MAX_FUNCTION_TIMEOUT_SECS,
    logLevel: settings.logLevel ?? 'INFO',
    logRetentionDays: settings.logRetentionDays ?? RetentionDays.ONE_MONTH,
    batchSize: settings.batchSize ?? 10,
    maxConcurrency: settings.maxConcurrency ?? 2,
    maxReceiveCount: settings.maxReceiveCount ?? 5,
    queueAgeAlarmSecs: settings.queueAgeAlarmSecs ?? 3600,
  };
}

const STRING_KEYS = [
  'stacApiUrl',
  'secretArn',
  'secretName',
  'secretKmsKeyArn',
  'existingBucketName',
  'bucketKmsKeyArn',
  'prefix',
  'logLevel',
  'alarmEmail',
] as const;

const LIST_KEYS = ['keyLayouts', 'suffixes'] as const;

const BOOLEAN_KEYS = ['serverAccessLogs'] as const;

const INTEGER_KEYS: IntegerKey[] = [
  'secretMaxAgeSecs',
  'noncurrentVersionExpirationDays',
  'abortIncompleteMultipartUploadDays',
  'accessLogExpirationDays',
  'partSizeMib',
  'functionMemoryMib',
  'functionTimeoutSecs',
  'logRetentionDays',
  'batchSize',
  'maxConcurrency',
  'maxReceiveCount',
  'queueAgeAlarmSecs',
];

/**
 * Reads the settings from CDK context. Values given with `-c` arrive as strings,
 * so numbers, booleans and comma-separated lists are parsed here, while cdk.json
 * may also hold them as JSON numbers, booleans and arrays.
 *
 * @throws InvalidSettingsError listing every unparsable or invalid value at once
 */
export function settingsFromContext(node: Node): StacIngestSettings {
  const problems: string[] = [];
  const settings: Record<string, unknown> = {};

  for (const key of STRING_KEYS) {
    const value = node.tryGetContext(key);
    if (value === undefined) {
      continue;
    }
    if (typeof value === 'string') {
      settings[key] = value.trim();
    } else {
      problems.push(`${key}: expected a string, got ${JSON.stringify(value)}.`);
    }
  }

  for (const key of LIST_KEYS) {
    const value = node.tryGetContext(key);
    if (value === undefined) {
      continue;
    }
    if (typeof value === 'string') {
      settings[key] = value.split(',').map((entry) => entry.trim());
    } else if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) {
      settings[key] = value;
    } else {
      problems.push(
        `${key}: expected a comma-separated string or an array of strings, got ${JSON.stringify(value)}.`,
      );
    }
  }

  for (const key of BOOLEAN_KEYS) {
    const value = node.tryGetContext(key);
    if (value === undefined) {
      continue;
    }
    if (value === true || value === 'true') {
      settings[key] = true;
    } else if (value === false || value === 'false') {
      settings[key] = false;
    } else {
      problems.push(`${key}: expected true or false, got ${JSON.stringify(value)}.`);
    }
  }

  for (const key of INTEGER_KEYS) {
    const value = node.tryGetContext(key);
    if (value === undefined) {
      continue;
    }
    const parsed =
      typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof parsed === 'number') {
      settings[key] = parsed;
    } else {
      problems.push(`${key}: expected an integer, got ${JSON.stringify(value)}.`);
    }
  }

  const parsedSettings = settings as Partial<StacIngestSettings>;
  // A key that failed to parse is absent from the settings, so validation would
  // report it again as missing.
  const unparsedKeys = problems.map((problem) => problem.slice(0, problem.indexOf(':')));
  const validationProblems = findSettingsProblems(parsedSettings).filter(
    (problem) => !unparsedKeys.some((key) => problem.startsWith(`${key}:`)),
  );
  const allProblems = [...problems, ...validationProblems];
  if (allProblems.length > 0) {
    throw new InvalidSettingsError(allProblems);
  }
  return parsedSettings as StacIngestSettings;
}
