import { Match, type Template } from 'aws-cdk-lib/assertions';
import { buildStack, resourcesOfType } from './stack-fixture';

const topicAction = [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }];

function alarmWith(template: Template, properties: Record<string, unknown>): void {
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    ComparisonOperator: 'GreaterThanThreshold',
    AlarmActions: topicAction,
    OKActions: topicAction,
    ...properties,
  });
}

describe('alarms', () => {
  test('five alarms notify the topic', () => {
    const { template } = buildStack();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
  });

  test('dead-letter queue alarm fires on one visible message', () => {
    const { template } = buildStack();
    alarmWith(template, {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestDeadLetterQueue'), 'QueueName'] },
        },
      ],
      Statistic: 'Maximum',
      Threshold: 0,
    });
  });

  test('queue age alarm uses default threshold', () => {
    const { template } = buildStack();
    alarmWith(template, {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestQueue'), 'QueueName'] },
        },
      ],
      Threshold: 3600,
    });
  });

  test('queue age alarm uses configured threshold', () => {
    const { template } = buildStack({ queueAgeAlarmSecs: 600 });
    alarmWith(template, { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 600 });
  });

  test.each(['Errors', 'Throttles'])('function %s alarm fires above zero', (metricName) => {
    const { template } = buildStack();
    alarmWith(template, {
      Namespace: 'AWS/Lambda',
      MetricName: metricName,
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^IngestFunction') } },
      ],
      Statistic: 'Sum',
      Threshold: 0,
    });
  });

  test('FilesFailed alarm reads the function metric', () => {
    const { template } = buildStack();
    alarmWith(template, {
      Namespace: 'StacIngest',
      MetricName: 'FilesFailed',
      Dimensions: [{ Name: 'service', Value: 'stac-ingest' }],
      Statistic: 'Sum',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
  });
});

describe('alarm topic', () => {
  test('is encrypted with a rotated key', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('key lets CloudWatch of this account encrypt', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
  });

  test('denies publishing without TLS', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('has no subscription by default', () => {
    const { template } = buildStack();
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  test('subscribes the configured e-mail address', () => {
    const { template } = buildStack({ alarmEmail: 'ops@example.invalid' });
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.invalid',
    });
  });
});

describe('dashboard', () => {
  test('shows ingest metrics and queue depths', () => {
    const { stack, template } = buildStack();
    const dashboards = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(stack.resolve(dashboards[0].Properties.DashboardBody));
    for (const metric of [
      'FilesIngested',
      'FilesSkipped',
      'FilesFailed',
      'BytesIngested',
      'IngestDuration',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
    ]) {
      expect(body).toContain(metric);
    }
    expect(body).toContain('Dead-letter queue depth');
  });
});

describe('outputs', () => {
  test.each([
    'BucketName',
    'QueueUrl',
    'QueueArn',
    'DeadLetterQueueUrl',
    'DeadLetterQueueArn',
    'AlarmTopicArn',
    'DashboardName',
  ])('stack outputs %s', (name) => {
    const { template } = buildStack();
    template.hasOutput(name, { Value: Match.anyValue() });
  });

  test('dashboard name output references the dashboard', () => {
    const { template } = buildStack();
    template.hasOutput('DashboardName', {
      Value: { Ref: Match.stringLikeRegexp('^MonitoringDashboard') },
    });
  });
});
