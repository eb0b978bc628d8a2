import * as path from 'node:path';
import { Arn, ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import type { ResolvedSettings } from './config';
import { acknowledgeWildcardResource } from './nag';

/** Value of the `service` metric dimension and of `POWERTOOLS_SERVICE_NAME`. */
export const SERVICE_NAME = 'stac-ingest';

/** CloudWatch namespace of the metrics the function emits. */
export const METRICS_NAMESPACE = 'StacIngest';

/**
 * Ratio of queue visibility timeout to function timeout. AWS recommends at least six
 * times the function timeout, so that a message stays hidden while the event source
 * retries a throttled invocation.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

const REPOSITORY_ROOT = path.join(__dirname, '..');

/** Construct id of the function that aws-cdk-lib adds to a stack to configure bucket notifications. */
const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/** Properties of {@link IngestPipeline}. */
export interface IngestPipelineProps {
  /** Validated settings with defaults applied. */
  readonly settings: ResolvedSettings;

  /**
   * Path of the handler source file that esbuild bundles.
   *
   * @default - lambdas/ingest/handler.ts in this repository
   */
  readonly entry?: string;

  /**
   * Prebuilt function code that replaces the esbuild bundle, for tests.
   *
   * @default - the code is bundled from `entry` by esbuild
   */
  readonly code?: lambda.Code;
}

/**
 * Incoming bucket, event queue with its dead-letter queue, and the ingest function
 * that publishes each new object as a STAC asset.
 */
export class IngestPipeline extends Construct {
  /** Bucket whose new objects are ingested, created or imported. */
  readonly bucket: s3.IBucket;
  /** Queue that receives the bucket's object-created notifications. */
  readonly queue: sqs.Queue;
  /** Queue that receives messages the function failed on `maxReceiveCount` times. */
  readonly deadLetterQueue: sqs.Queue;
  /** Ingest function. */
  readonly function: nodejs.NodejsFunction;
  /** Log group of the ingest function. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: IngestPipelineProps) {
    super(scope, id);
    const settings = props.settings;
    // The access log bucket then grants log delivery through its bucket policy, which
    // works with ObjectOwnership BucketOwnerEnforced, instead of through an ACL.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    this.bucket =
      settings.existingBucketName === undefined
        ? this.createBucket(settings)
        : s3.Bucket.fromBucketName(this, 'Bucket', settings.existingBucketName);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A standard queue keeps the original enqueue time when it moves a message to
      // the dead-letter queue, so this retention has to exceed the source queue's.
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the ingest queue and needs none of its own.',
    });

    const functionTimeout = Duration.seconds(settings.functionTimeoutSecs);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(functionTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });

    this.addNotifications(settings);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: settings.logRetentionDays as logs.RetentionDays,
    });

    const role = this.createRole(settings);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'Publishes new S3 objects as STAC assets',
      entry: props.entry ?? path.join(REPOSITORY_ROOT, 'lambdas', 'ingest', 'handler.ts'),
      handler: props.code === undefined ? 'handler' : 'index.handler',
      code: props.code,
      depsLockFilePath: path.join(REPOSITORY_ROOT, 'package-lock.json'),
      projectRoot: REPOSITORY_ROOT,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.functionMemoryMib,
      timeout: functionTimeout,
      role,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        STAC_API_URL: settings.stacApiUrl,
        SECRET_ID: settings.secretArn ?? settings.secretName ?? '',
        SECRET_MAX_AGE_SECS: String(settings.secretMaxAgeSecs),
        KEY_LAYOUTS: settings.keyLayouts.join(','),
        PART_SIZE_MIB: String(settings.partSizeMib),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: settings.logLevel,
        // The function sends a message whose failure is permanent, such as an invalid file,
        // straight to this queue instead of letting it fail maxReceiveCount times.
        DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        // An upload in progress older than the function timeout plus a minute cannot belong
        // to a running invocation, so the function may abort it.
        STALE_UPLOAD_AGE_SECS: String(settings.functionTimeoutSecs + 60),
        // Stack traces then point into the TypeScript sources through the bundled source map.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // The bundle includes the AWS SDK v3 clients instead of using the copy in the
        // runtime, so the function runs the SDK versions pinned in package-lock.json and
        // tested here, whatever version the runtime ships.
        externalModules: [],
        minify: true,
        sourceMap: true,
        // CommonJS output is written as index.js, the file the handler string names.
        format: nodejs.OutputFormat.CJS,
        target: 'node22',
        forceDockerBundling: false,
      },
    });
    acknowledgeWildcardResource(
      role,
      '*',
      'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
    );
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The function runs on Node.js 22, the runtime its bundle targets and its tests run against.',
    });

    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: settings.batchSize,
        maxConcurrency: settings.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }

  /** Sends object-created events to the queue, with one filter per suffix. */
  private addNotifications(settings: ResolvedSettings): void {
    const destination = new SqsDestination(this.queue);
    const prefix = settings.prefix;
    if (settings.suffixes.length === 0) {
      const filters = prefix === undefined ? [] : [{ prefix }];
      this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, ...filters);
    }
    for (const suffix of settings.suffixes) {
      this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, {
        prefix,
        suffix,
      });
    }

    // CDK writes bucket notifications through one custom resource function per stack.
    const handler = Stack.of(this).node.tryFindChild(NOTIFICATIONS_HANDLER_ID);
    if (handler !== undefined) {
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The CDK custom resource that writes the bucket notification configuration only logs with this managed policy.',
      });
    }
  }

  private createBucket(settings: ResolvedSettings): s3.Bucket {
    let accessLogBucket: s3.Bucket | undefined;
    if (settings.serverAccessLogs) {
      accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        // Server access log delivery supports only S3-managed keys on the target bucket.
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycleRules: [{ expiration: Duration.days(settings.accessLogExpirationDays) }],
      });
      Validations.of(accessLogBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'This bucket is the server access log target; logging its own access would log the log deliveries.',
      });
    }

    const bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: accessLogBucket === undefined ? undefined : 'incoming/',
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(settings.noncurrentVersionExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(
            settings.abortIncompleteMultipartUploadDays,
          ),
        },
      ],
    });
    if (accessLogBucket === undefined) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Server access logging is turned off by the serverAccessLogs setting of this deployment.',
      });
    }
    return bucket;
  }

  /**
   * Creates the function role with inline statements only, which allow writing to its
   * own log group, reading the ingested objects, listing their keys, sending to the
   * dead-letter queue and reading the one secret. The event source and X-Ray add their
   * statements to this role.
   */
  private createRole(settings: ResolvedSettings): iam.Role {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Role of the stac-ingest function',
    });

    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    // HeadObject and GetObject need s3:GetObject, and reading the version named by
    // the event needs s3:GetObjectVersion. The function reads no tags or ACLs.
    const objectPattern = `${settings.prefix ?? ''}*`;
    const objectArn = this.bucket.arnForObjects(objectPattern);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [objectArn],
      }),
    );
    acknowledgeWildcardResource(
      role,
      objectArn,
      settings.prefix === undefined
        ? 'The function reads any new object in the bucket, whose keys are not known in advance.'
        : 'The function reads any new object under the configured prefix, whose keys are not known in advance.',
    );

    // Without s3:ListBucket, S3 returns 403 AccessDenied instead of 404 for a missing key,
    // and the function skips a deleted object only on 404. S3 checks this permission with
    // the requested key as s3:prefix, so the condition admits keys under the prefix.
    // NOTE: the AWS documentation does not say which s3:prefix this check uses. Ceph RGW
    // passes the key, stating that AWS does the same, but no test here runs against AWS.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions:
          settings.prefix === undefined
            ? undefined
            : { StringLike: { 's3:prefix': `${settings.prefix}*` } },
      }),
    );

    // The function only writes to the dead-letter queue, so it gets SendMessage alone.
    // The queue uses SQS-managed encryption, which needs no KMS permission.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );

    const secretArn =
      settings.secretArn ??
      stack.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        // Secrets Manager appends a hyphen and six random characters to the name.
        resourceName: `${settings.secretName}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArn],
      }),
    );

    if (settings.bucketKmsKeyArn !== undefined) {
      const keyRegion = Arn.split(settings.bucketKmsKeyArn, ArnFormat.SLASH_RESOURCE_NAME).region;
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [settings.bucketKmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${keyRegion}.amazonaws.com` } },
        }),
      );
    }

    if (settings.secretKmsKeyArn !== undefined) {
      const keyRegion = Arn.split(settings.secretKmsKeyArn, ArnFormat.SLASH_RESOURCE_NAME).region;
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [settings.secretKmsKeyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${keyRegion}.amazonaws.com` },
          },
        }),
      );
    }

    return role;
  }
}
