import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { StacIngestStackProps } from '../../lib/stac-ingest-stack';
import { buildStack } from './stack-fixture';

/** Acknowledgements recorded on every construct under `root`, as rule id and reason. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: unknown }[] {
  const found: { path: string; id: string; reason: unknown }[] = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        continue;
      }
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        found.push({ path: construct.node.path, id, reason });
      }
    }
  }
  return found;
}

const CONFIGURATIONS: [string, Partial<StacIngestStackProps>][] = [
  ['default settings', {}],
  ['no access logs', { serverAccessLogs: false }],
  [
    'existing bucket with prefix, suffixes, KMS key and e-mail',
    {
      existingBucketName: 'my-incoming-bucket',
      prefix: 'incoming/',
      suffixes: ['.tif', '.csv'],
      secretKmsKeyArn: 'arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab',
      alarmEmail: 'ops@example.invalid',
    },
  ],
  [
    'created bucket with prefix and secret ARN',
    {
      prefix: 'incoming/',
      secretName: undefined,
      secretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac-AbCdEf',
    },
  ],
];

describe('cdk-nag AwsSolutions', () => {
  test.each(CONFIGURATIONS)('no unacknowledged finding with %s', (_name, overrides) => {
    const { app } = buildStack(overrides);
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations.map(
      (violation) =>
        `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  test.each(CONFIGURATIONS)('every acknowledgement has a reason with %s', (_name, overrides) => {
    const { app } = buildStack(overrides);
    const found = acknowledgements(app);
    expect(found.length).toBeGreaterThan(0);
    for (const { path, id, reason } of found) {
      // The path and id in the expected value name the acknowledgement that fails.
      expect({ path, id, reason }).toEqual({
        path,
        id,
        reason: expect.stringMatching(/\w{4,}.*\./),
      });
    }
  });

  test('acknowledges only expected rules', () => {
    const { app } = buildStack({ prefix: 'incoming/' });
    const ids = acknowledgements(app).map(({ id }) =>
      id
        .replace(/^Annotation::/i, '')
        .replace(/<IngestBucket[0-9A-F]{8}\.Arn>/, '<IngestBucket.Arn>'),
    );
    expect([...new Set(ids)].sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::<IngestBucket.Arn>/incoming/*]',
      'AwsSolutions-L1',
      'AwsSolutions-S1',
      'AwsSolutions-SQS3',
    ]);
  });

  test('synthesis with the plugin succeeds', () => {
    const { app } = buildStack();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
