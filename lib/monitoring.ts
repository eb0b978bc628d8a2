import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from './ingest-pipeline';

/** Properties of {@link IngestMonitoring}. */
export interface IngestMonitoringProps {
  /** Ingest function whose errors and throttles raise alarms. */
  readonly function: lambda.IFunction;
  /** Ingest queue whose oldest message age raises an alarm. */
  readonly queue: sqs.IQueue;
  /** Dead-letter queue whose visible messages raise an alarm. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Age of the oldest ingest queue message that raises an alarm. */
  readonly queueAgeAlarmThreshold: Duration;

  /**
   * E-mail address subscribed to the alarm topic.
   *
   * @default - no subscription
   */
  readonly alarmEmail?: string;
}

/** Alarms, their encrypted SNS topic and a dashboard for the ingest pipeline. */
export class IngestMonitoring extends Construct {
  /** Topic that receives every alarm and OK notification. */
  readonly topic: sns.Topic;
  /** Dashboard with the ingest metrics, queue depths and function health. */
  readonly dashboard: cloudwatch.Dashboard;
  /** Alarms by name: deadLetterQueue, queueAge, functionErrors, functionThrottles, filesFailed. */
  readonly alarms: Record<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: IngestMonitoringProps) {
    super(scope, id);

    // SNS has no SQS-style managed encryption, and the AWS-managed key aws/sns does not
    // let CloudWatch publish, so the topic gets its own key with a CloudWatch grant.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the stac-ingest alarm topic',
      enableKeyRotation: true,
    });
    const stack = Stack.of(this);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'stac-ingest alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    }

    const filesFailed = ingestMetric('FilesFailed', 'Sum');
    // Every alarm fires when its metric goes above the threshold in one period, and treats
    // missing data (no traffic) as fine.
    const alarmAbove = (
      id: string,
      alarmDescription: string,
      metric: cloudwatch.IMetric,
      threshold: number,
    ) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.alarms = {
      deadLetterQueue: alarmAbove(
        'DeadLetterQueueAlarm',
        'Messages are in the stac-ingest dead-letter queue: invalid input at once, other ' +
          'failures after every delivery failed. Fix the cause from the message attributes or ' +
          'the function logs, then redrive the dead-letter queue or upload the file again.',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        0,
      ),
      queueAge: alarmAbove(
        'QueueAgeAlarm',
        'The oldest message in the stac-ingest queue is older than the threshold: ' +
          'ingestion is stalled or slower than the upload rate.',
        props.queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        props.queueAgeAlarmThreshold.toSeconds(),
      ),
      functionErrors: alarmAbove(
        'FunctionErrorsAlarm',
        'Invocations of the stac-ingest function failed as a whole (crash, timeout or out of memory).',
        props.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        0,
      ),
      functionThrottles: alarmAbove(
        'FunctionThrottlesAlarm',
        'Invocations of the stac-ingest function were throttled by the account or function concurrency limit.',
        props.function.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        0,
      ),
      filesFailed: alarmAbove(
        'FilesFailedAlarm',
        'The stac-ingest function failed to publish files. ' +
          'The function logs name each file and the error.',
        filesFailed,
        0,
      ),
    };
    const action = new SnsAction(this.topic);
    for (const alarm of Object.values(this.alarms)) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Files',
        left: [
          ingestMetric('FilesIngested', 'Sum'),
          ingestMetric('FilesSkipped', 'Sum'),
          filesFailed,
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Bytes ingested',
        left: [ingestMetric('BytesIngested', 'Sum')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Ingest duration (ms)',
        left: [
          ingestMetric('IngestDuration', 'p50'),
          ingestMetric('IngestDuration', 'p90'),
          ingestMetric('IngestDuration', 'Maximum'),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        left: [
          props.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
          props.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum' }),
        ],
        right: [props.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queue depth',
        left: [
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function',
        left: [
          props.function.metricInvocations({ statistic: 'Sum' }),
          props.function.metricErrors({ statistic: 'Sum' }),
          props.function.metricThrottles({ statistic: 'Sum' }),
        ],
        right: [props.function.metricDuration({ statistic: 'Maximum' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: Object.values(this.alarms),
        width: 24,
      }),
    );
  }
}

/** Metric the ingest function emits in embedded metric format, per 5 minutes. */
function ingestMetric(metricName: string, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period: Duration.minutes(5),
  });
}
