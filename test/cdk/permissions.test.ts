import { Match, type Template } from 'aws-cdk-lib/assertions';
import { buildStack, resourcesOfType } from './stack-fixture';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

function allStatements(template: Template): Statement[] {
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap(
    (policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
}

/** Statements of the ingest function role's inline policy. */
function functionStatements(template: Template): Statement[] {
  const policies = Object.entries(resourcesOfType(template, 'AWS::IAM::Policy')).filter(([id]) =>
    id.startsWith('IngestFunctionRole'),
  );
  expect(policies).toHaveLength(1);
  return (policies[0][1].Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

describe('function permissions', () => {
  test.each([
    ['default settings', {}],
    [
      'prefix, existing bucket and KMS key',
      {
        prefix: 'incoming/',
        existingBucketName: 'my-incoming-bucket',
        secretKmsKeyArn: 'arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab',
      },
    ],
  ])('no policy grants a wildcard action with %s', (_name, overrides) => {
    const { template } = buildStack(overrides);
    for (const statement of allStatements(template)) {
      for (const action of actionsOf(statement)) {
        expect(action).not.toContain('*');
      }
    }
  });

  test('role has no managed policy', () => {
    const { template } = buildStack();
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: 'Role of the stac-ingest function',
      ManagedPolicyArns: Match.absent(),
    });
  });

  test('secret name grants GetSecretValue on that secret only', () => {
    const { template } = buildStack();
    const secretStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toHaveLength(1);
    expect(secretStatements[0].Action).toBe('secretsmanager:GetSecretValue');
    expect(secretStatements[0].Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':secretsmanager:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':secret:stac-ingest/credentials-??????',
        ],
      ],
    });
  });

  test('secret ARN grants GetSecretValue on that ARN only', () => {
    const secretArn = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:stac-AbCdEf';
    const { template } = buildStack({ secretName: undefined, secretArn });
    const secretStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn },
    ]);
  });

  test('KMS key grants Decrypt through Secrets Manager only', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab';
    const { template } = buildStack({ secretKmsKeyArn: keyArn });
    const kmsStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('kms:')),
    );
    expect(kmsStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: keyArn,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ]);
  });

  test('bucket KMS key grants Decrypt through S3 only', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:111111111111:key/5678efgh-34cd';
    const { template } = buildStack({
      existingBucketName: 'provider-uploads',
      bucketKmsKeyArn: keyArn,
    });
    const kmsStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('kms:')),
    );
    expect(kmsStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: keyArn,
        Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
      },
    ]);
  });

  test('no KMS statement without a key', () => {
    const { template } = buildStack();
    const kmsActions = functionStatements(template)
      .flatMap(actionsOf)
      .filter((action) => action.startsWith('kms:'));
    expect(kmsActions).toEqual([]);
  });

  test('bucket access is read and list only', () => {
    const { template } = buildStack();
    const s3Statements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('s3:')),
    );
    expect(s3Statements).toHaveLength(2);
    expect(s3Statements[0].Action).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(s3Statements[0].Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^IngestBucket/), 'Arn'] }, '/*']],
    });
    expect(s3Statements[1]).toEqual({
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^IngestBucket/), 'Arn'] },
    });
  });

  test('bucket access is limited to the prefix', () => {
    const { template } = buildStack({
      prefix: 'incoming/',
      existingBucketName: 'my-incoming-bucket',
    });
    const s3Statements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('s3:')),
    );
    expect(s3Statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-incoming-bucket/incoming/*'],
          ],
        },
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-incoming-bucket']],
        },
        Condition: { StringLike: { 's3:prefix': 'incoming/*' } },
      },
    ]);
  });

  test('created bucket lists only under the prefix', () => {
    const { template } = buildStack({ prefix: 'incoming/' });
    const listStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).includes('s3:ListBucket'),
    );
    expect(listStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^IngestBucket/), 'Arn'] },
        Condition: { StringLike: { 's3:prefix': 'incoming/*' } },
      },
    ]);
  });

  test('dead-letter queue grants SendMessage only', () => {
    const { template } = buildStack();
    const deadLetterQueueArn = {
      'Fn::GetAtt': [expect.stringMatching(/^IngestDeadLetterQueue/), 'Arn'],
    };
    const deadLetterStatements = functionStatements(template).filter((statement) =>
      JSON.stringify(statement.Resource).includes('IngestDeadLetterQueue'),
    );
    expect(deadLetterStatements).toEqual([
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: deadLetterQueueArn },
    ]);
    const sendStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).includes('sqs:SendMessage'),
    );
    expect(sendStatements).toHaveLength(1);
  });

  test('logs go only to the function log group', () => {
    const { template } = buildStack();
    const logStatements = functionStatements(template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('logs:')),
    );
    expect(logStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^IngestLogGroup/), 'Arn'] },
      },
    ]);
  });

  test('wildcard resources are only objects and X-Ray', () => {
    const { stack, template } = buildStack();
    const wildcards = functionStatements(template)
      .filter((statement) => JSON.stringify(stack.resolve(statement.Resource)).includes('*'))
      .flatMap(actionsOf)
      .sort();
    expect(wildcards).toEqual([
      's3:GetObject',
      's3:GetObjectVersion',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });
});
