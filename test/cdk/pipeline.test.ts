import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { buildStack, resourcesOfType } from './stack-fixture';

/** Visibility timeout of the ingest queue, the one queue with a redrive policy. */
function ingestQueueVisibility(template: Template): number {
  const queues = Object.values(resourcesOfType(template, 'AWS::SQS::Queue')).filter(
    (queue) => queue.Properties.RedrivePolicy !== undefined,
  );
  expect(queues).toHaveLength(1);
  return queues[0].Properties.VisibilityTimeout as number;
}

function ingestFunctionTimeout(template: Template): number {
  const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function')).filter(
    (fn) => fn.Properties.Description === 'Publishes new S3 objects as STAC assets',
  );
  expect(functions).toHaveLength(1);
  return functions[0].Properties.Timeout as number;
}

describe('incoming bucket', () => {
  test('blocks public access, encrypts and versions', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'incoming/' }),
    });
  });

  test('lifecycle rule uses default days', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            Status: 'Enabled',
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
          }),
        ],
      },
    });
  });

  test('lifecycle rule uses configured days', () => {
    const { template } = buildStack({
      noncurrentVersionExpirationDays: 3,
      abortIncompleteMultipartUploadDays: 2,
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: 3 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
          }),
        ],
      },
    });
  });

  test('bucket policies deny requests without TLS', () => {
    const { template } = buildStack();
    const policies = resourcesOfType(template, 'AWS::S3::BucketPolicy');
    // One policy for the incoming bucket and one for the access log bucket.
    expect(Object.keys(policies)).toHaveLength(2);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument).toEqual(
        expect.objectContaining({
          Statement: expect.arrayContaining([
            expect.objectContaining({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        }),
      );
    }
  });

  test('access log bucket expires logs and grants delivery by policy', () => {
    const { template } = buildStack({ accessLogExpirationDays: 10 });
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.hasResourceProperties('AWS::S3::Bucket', {
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 10 })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:PutObject',
            Principal: { Service: 'logging.s3.amazonaws.com' },
          }),
        ]),
      },
    });
  });

  test('serverAccessLogs false creates no log bucket', () => {
    const { template } = buildStack({ serverAccessLogs: false });
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: Match.absent(),
    });
  });

  test('existing bucket gets notifications only', () => {
    const { template } = buildStack({ existingBucketName: 'my-incoming-bucket' });
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'my-incoming-bucket',
      Managed: false,
      NotificationConfiguration: {
        QueueConfigurations: [{ Events: ['s3:ObjectCreated:*'], QueueArn: Match.anyValue() }],
      },
    });
    template.hasOutput('BucketName', { Value: 'my-incoming-bucket' });
  });
});

describe('notifications', () => {
  test('cover the whole bucket by default', () => {
    const { template } = buildStack();
    const queueArn = new Capture();
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [{ Events: ['s3:ObjectCreated:*'], QueueArn: queueArn }],
      },
    });
    expect(queueArn.asObject()).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^IngestQueue/), 'Arn'],
    });
  });

  test('add one filter per suffix under the prefix', () => {
    const { template } = buildStack({ prefix: 'incoming/', suffixes: ['.tif', '.csv'] });
    const filter = (suffix: string) => ({
      Events: ['s3:ObjectCreated:*'],
      QueueArn: Match.anyValue(),
      Filter: {
        Key: {
          FilterRules: [
            { Name: 'suffix', Value: suffix },
            { Name: 'prefix', Value: 'incoming/' },
          ],
        },
      },
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { QueueConfigurations: [filter('.tif'), filter('.csv')] },
    });
  });

  test('prefix alone adds one prefix filter', () => {
    const { template } = buildStack({ prefix: 'incoming/' });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          Match.objectLike({
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }] } },
          }),
        ],
      },
    });
  });

  test('queue policy lets only the bucket send', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: Match.arrayWith(['sqs:SendMessage']),
            Condition: { ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });
});

describe('queues', () => {
  test('both use SQS-managed encryption and deny requests without TLS', () => {
    const { template } = buildStack();
    const queues = resourcesOfType(template, 'AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(2);
    for (const queue of Object.values(queues)) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    }
    const policies = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument).toEqual(
        expect.objectContaining({
          Statement: expect.arrayContaining([
            expect.objectContaining({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        }),
      );
    }
  });

  test('dead-letter queue keeps messages 14 days', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: Match.absent(),
    });
  });

  test('redrive policy uses default maxReceiveCount', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [Match.stringLikeRegexp('^IngestDeadLetterQueue'), 'Arn'],
        },
        maxReceiveCount: 5,
      },
    });
  });

  test('redrive policy uses configured maxReceiveCount', () => {
    const { template } = buildStack({ maxReceiveCount: 3 });
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
    });
  });

  test.each([
    ['default', undefined, 900],
    ['custom', 120, 120],
    ['minimum', 1, 1],
  ])('visibility timeout is six times the %s function timeout', (_name, setting, expected) => {
    const { template } = buildStack({ functionTimeoutSecs: setting });
    const timeout = ingestFunctionTimeout(template);
    expect(timeout).toBe(expected);
    expect(ingestQueueVisibility(template)).toBeGreaterThanOrEqual(6 * timeout);
  });
});

describe('ingest function', () => {
  test('runs Node.js 22 on arm64 with defaults', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: {
        LogFormat: 'JSON',
        LogGroup: { Ref: Match.stringLikeRegexp('^IngestLogGroup') },
      },
    });
  });

  test('uses configured memory and timeout', () => {
    const { template } = buildStack({ functionMemoryMib: 2048, functionTimeoutSecs: 300 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      MemorySize: 2048,
      Timeout: 300,
    });
  });

  test('environment carries the settings', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          STAC_API_URL: 'https://stac.example.invalid/api/stac/v1',
          SECRET_ID: 'stac-ingest/credentials',
          SECRET_MAX_AGE_SECS: '300',
          KEY_LAYOUTS: '{collection}/{item}/{asset},{collection}/{asset}',
          PART_SIZE_MIB: '64',
          POWERTOOLS_SERVICE_NAME: 'stac-ingest',
          POWERTOOLS_METRICS_NAMESPACE: 'StacIngest',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
          DEAD_LETTER_QUEUE_URL: { Ref: Match.stringLikeRegexp('^IngestDeadLetterQueue') },
          STALE_UPLOAD_AGE_SECS: '960',
        },
      },
    });
  });

  test('environment carries configured values', () => {
    const secretArn = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac-AbCdEf';
    const { template } = buildStack({
      secretName: undefined,
      secretArn,
      secretMaxAgeSecs: 60,
      keyLayouts: ['{collection}/{asset}'],
      partSizeMib: 16,
      logLevel: 'DEBUG',
      functionTimeoutSecs: 300,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SECRET_ID: secretArn,
          SECRET_MAX_AGE_SECS: '60',
          KEY_LAYOUTS: '{collection}/{asset}',
          PART_SIZE_MIB: '16',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
          STALE_UPLOAD_AGE_SECS: '360',
        }),
      },
    });
  });

  test('log group keeps logs one month by default', () => {
    const { template } = buildStack();
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('log group uses configured retention', () => {
    const { template } = buildStack({ logRetentionDays: 365 });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  test('event source reports batch item failures', () => {
    const { template } = buildStack();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  test('event source uses configured batch size and concurrency', () => {
    const { template } = buildStack({ batchSize: 4, maxConcurrency: 8 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 4,
      ScalingConfig: { MaximumConcurrency: 8 },
    });
  });
});
