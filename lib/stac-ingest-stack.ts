import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { resolveSettings, type StacIngestSettings } from './config';
import { IngestPipeline } from './ingest-pipeline';
import { IngestMonitoring } from './monitoring';

/** Properties of {@link StacIngestStack}. */
export interface StacIngestStackProps extends StackProps, StacIngestSettings {
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
 * Stack that publishes files dropped into an S3 bucket as assets of a STAC API:
 * bucket notifications feed a queue, and a Lambda function ingests each object.
 *
 * @throws InvalidSettingsError when a setting is invalid, listing every problem
 */
export class StacIngestStack extends Stack {
  /** Bucket, queues and function. */
  readonly pipeline: IngestPipeline;
  /** Alarms, alarm topic and dashboard. */
  readonly monitoring: IngestMonitoring;

  constructor(scope: Construct, id: string, props: StacIngestStackProps) {
    super(scope, id, props);
    const settings = resolveSettings(props);

    this.pipeline = new IngestPipeline(this, 'Ingest', {
      settings,
      entry: props.entry,
      code: props.code,
    });
    this.monitoring = new IngestMonitoring(this, 'Monitoring', {
      function: this.pipeline.function,
      queue: this.pipeline.queue,
      deadLetterQueue: this.pipeline.deadLetterQueue,
      queueAgeAlarmThreshold: Duration.seconds(settings.queueAgeAlarmSecs),
      alarmEmail: settings.alarmEmail,
    });

    new CfnOutput(this, 'BucketName', {
      description: 'Bucket whose new objects are ingested',
      value: this.pipeline.bucket.bucketName,
    });
    new CfnOutput(this, 'QueueUrl', {
      description: 'Queue of object-created notifications',
      value: this.pipeline.queue.queueUrl,
    });
    new CfnOutput(this, 'QueueArn', {
      description: 'Destination ARN for a dead-letter queue redrive',
      value: this.pipeline.queue.queueArn,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Dead-letter queue of notifications that failed maxReceiveCount times',
      value: this.pipeline.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'DeadLetterQueueArn', {
      description: 'Source ARN for a dead-letter queue redrive',
      value: this.pipeline.deadLetterQueue.queueArn,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic that receives the alarms',
      value: this.monitoring.topic.topicArn,
    });
    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard of the ingest',
      value: this.monitoring.dashboard.dashboardName,
    });
  }
}
