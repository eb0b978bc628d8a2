import { App } from 'aws-cdk-lib';
import {
  DEFAULT_KEY_LAYOUTS,
  findSettingsProblems,
  InvalidSettingsError,
  resolveSettings,
  settingsFromContext,
} from '../../lib/config';
import { BASE_SETTINGS, buildStack } from './stack-fixture';

const LOG_RETENTION_CHOICES =
  '1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653';

function contextError(context: Record<string, unknown>): InvalidSettingsError {
  const app = new App({ context });
  try {
    settingsFromContext(app.node);
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      return error;
    }
    throw error;
  }
  throw new Error('settingsFromContext accepted the context');
}

describe('settingsFromContext', () => {
  test('parses strings given with -c', () => {
    const app = new App({
      context: {
        stacApiUrl: 'https://stac.example.invalid/api/stac/v1',
        secretName: 'stac-ingest/credentials',
        keyLayouts: '{collection}/{asset}, {collection}/{item}/{asset}',
        suffixes: '.tif,.csv',
        functionTimeoutSecs: '600',
        serverAccessLogs: 'false',
      },
    });
    expect(settingsFromContext(app.node)).toEqual({
      stacApiUrl: 'https://stac.example.invalid/api/stac/v1',
      secretName: 'stac-ingest/credentials',
      keyLayouts: ['{collection}/{asset}', '{collection}/{item}/{asset}'],
      suffixes: ['.tif', '.csv'],
      functionTimeoutSecs: 600,
      serverAccessLogs: false,
    });
  });

  test('accepts JSON values from cdk.json', () => {
    const app = new App({
      context: {
        stacApiUrl: 'http://127.0.0.1:8000/api/stac/v1',
        secretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac-AbCdEf',
        suffixes: ['.tif'],
        maxReceiveCount: 3,
        serverAccessLogs: true,
      },
    });
    expect(settingsFromContext(app.node)).toEqual({
      stacApiUrl: 'http://127.0.0.1:8000/api/stac/v1',
      secretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac-AbCdEf',
      suffixes: ['.tif'],
      maxReceiveCount: 3,
      serverAccessLogs: true,
    });
  });

  test('reports missing required settings', () => {
    const error = contextError({});
    expect(error.problems).toEqual([
      'stacApiUrl: missing. Set it to the STAC API v1 root URL, such as https://<host>/api/stac/v1.',
      'secretArn, secretName: missing. Set exactly one of them to the secret with the STAC API credentials.',
    ]);
  });

  test('reports every problem in one error', () => {
    const error = contextError({
      stacApiUrl: 'http://stac.example.invalid/api/stac/v1',
      secretName: 'stac-ingest/credentials',
      secretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac',
      batchSize: 'ten',
      serverAccessLogs: 'yes',
      maxConcurrency: '1',
      functionTimeoutSecs: '901',
      suffixes: '.tif,cog.tif',
      prefix: '/incoming/',
      keyLayouts: '{collection}/{item}',
      logRetentionDays: '31',
      alarmEmail: 'ops',
    });
    expect(error.problems).toEqual([
      'serverAccessLogs: expected true or false, got "yes".',
      'batchSize: expected an integer, got "ten".',
      'stacApiUrl: "http://stac.example.invalid/api/stac/v1" uses http. Use https, because http is allowed only for localhost and 127.0.0.1.',
      'secretArn, secretName: both are set. Set exactly one of them.',
      'secretArn: invalid value "arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac". Use the complete ARN that ends with the six-character suffix, as printed by "aws secretsmanager describe-secret".',
      'keyLayouts: layout "{collection}/{item}" lacks {collection} or {asset}. Each layout contains both.',
      'prefix: "/incoming/" starts with "/". S3 keys have no leading slash, so remove it.',
      'suffixes: ".tif" and "cog.tif" overlap, which S3 rejects. Keep only the shorter one.',
      'functionTimeoutSecs: invalid value 901. Use an integer from 1 to 900.',
      'maxConcurrency: invalid value 1. Use an integer from 2 to 1000.',
      `logRetentionDays: invalid value 31. Use one of ${LOG_RETENTION_CHOICES}.`,
      'alarmEmail: invalid e-mail address "ops".',
    ]);
    const lines = error.message.split('\n');
    expect(lines[0]).toBe(
      'Invalid stac-ingest settings (12 problems). Set each value with -c KEY=VALUE or in the "context" object of cdk.json:',
    );
    expect(lines.slice(1)).toEqual(error.problems.map((problem) => `  - ${problem}`));
  });

  test('rejects a list of non-strings', () => {
    const error = contextError({ ...BASE_SETTINGS, suffixes: [1, 2] });
    expect(error.problems).toEqual([
      'suffixes: expected a comma-separated string or an array of strings, got [1,2].',
    ]);
  });
});

describe('findSettingsProblems', () => {
  test.each([
    ['http on localhost', { stacApiUrl: 'http://localhost:8000/api/stac/v1' }],
    ['https', { stacApiUrl: 'https://data.geo.admin.ch/api/stac/v1' }],
    [
      'complete secret ARN',
      {
        secretName: undefined,
        secretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:a/b-AbCdEf',
      },
    ],
    ['minimum concurrency', { maxConcurrency: 2 }],
    ['all log levels', { logLevel: 'WARN' as const }],
  ])('accepts %s', (_name, overrides) => {
    expect(findSettingsProblems({ ...BASE_SETTINGS, ...overrides })).toEqual([]);
  });

  test.each([
    [
      'ftp URL',
      { stacApiUrl: 'ftp://stac.example.invalid/' },
      'stacApiUrl: "ftp://stac.example.invalid/" uses ftp:. Use https.',
    ],
    [
      'relative URL',
      { stacApiUrl: 'api/stac/v1' },
      'stacApiUrl: invalid URL "api/stac/v1". Use an absolute URL such as https://<host>/api/stac/v1.',
    ],
    [
      'URL with credentials',
      { stacApiUrl: 'https://user:pw@stac.example.invalid/' },
      'stacApiUrl: the URL contains credentials. Remove them and store them in the secret.',
    ],
    [
      'alias as key ARN',
      { secretKmsKeyArn: 'arn:aws:kms:eu-central-1:111111111111:alias/stac' },
      'secretKmsKeyArn: invalid value "arn:aws:kms:eu-central-1:111111111111:alias/stac". Use a key ARN of the form arn:aws:kms:<region>:<account>:key/<key-id>, not an alias.',
    ],
    [
      'bucket key without existing bucket',
      { bucketKmsKeyArn: 'arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab' },
      'bucketKmsKeyArn: set without existingBucketName. The bucket the stack creates uses S3-managed keys, so set existingBucketName too or leave bucketKmsKeyArn unset.',
    ],
    [
      'uppercase bucket',
      { existingBucketName: 'My_Bucket' },
      'existingBucketName: invalid bucket name "My_Bucket". Use 3 to 63 lowercase letters, digits, dots or hyphens.',
    ],
    [
      'part size below 5 MiB',
      { partSizeMib: 4 },
      'partSizeMib: invalid value 4. Use an integer from 5 to 5120.',
    ],
    [
      'fractional memory',
      { functionMemoryMib: 1024.5 },
      'functionMemoryMib: invalid value 1024.5. Use an integer from 128 to 10240.',
    ],
    [
      'batch size above 10',
      { batchSize: 11 },
      'batchSize: invalid value 11. Use an integer from 1 to 10.',
    ],
    [
      'receive count 0',
      { maxReceiveCount: 0 },
      'maxReceiveCount: invalid value 0. Use an integer from 1 to 1000.',
    ],
    [
      'empty suffix list',
      { suffixes: [] },
      'suffixes: empty list. Give at least one suffix or leave it unset.',
    ],
    [
      'empty prefix',
      { prefix: '' },
      'prefix: empty value. Leave it unset to ingest objects anywhere in the bucket.',
    ],
    [
      'unknown log level',
      { logLevel: 'TRACE' as 'INFO' },
      'logLevel: invalid value "TRACE". Use one of DEBUG, INFO, WARN, ERROR.',
    ],
  ])('rejects %s', (_name, overrides, message) => {
    expect(findSettingsProblems({ ...BASE_SETTINGS, ...overrides })).toEqual([message]);
  });
});

describe('resolveSettings', () => {
  test('applies defaults', () => {
    expect(resolveSettings(BASE_SETTINGS)).toEqual({
      ...BASE_SETTINGS,
      secretMaxAgeSecs: 300,
      keyLayouts: DEFAULT_KEY_LAYOUTS,
      suffixes: [],
      noncurrentVersionExpirationDays: 30,
      abortIncompleteMultipartUploadDays: 7,
      serverAccessLogs: true,
      accessLogExpirationDays: 90,
      partSizeMib: 64,
      functionMemoryMib: 1024,
      functionTimeoutSecs: 900,
      logLevel: 'INFO',
      logRetentionDays: 30,
      batchSize: 10,
      maxConcurrency: 2,
      maxReceiveCount: 5,
      queueAgeAlarmSecs: 3600,
    });
  });

  test('stack rejects invalid props', () => {
    expect(() =>
      buildStack({ stacApiUrl: 'http://stac.example.invalid', maxConcurrency: 1 }),
    ).toThrow(
      new InvalidSettingsError([
        'stacApiUrl: "http://stac.example.invalid" uses http. Use https, because http is allowed only for localhost and 127.0.0.1.',
        'maxConcurrency: invalid value 1. Use an integer from 2 to 1000.',
      ]),
    );
  });
});
