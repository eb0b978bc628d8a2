import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges the cdk-nag AwsSolutions-IAM5 finding for one wildcard resource in
 * the policies of `scope`. cdk-nag names the finding after the resource with each
 * CloudFormation reference written as `<LogicalId>` or `<LogicalId.Attribute>`,
 * so this function resolves the resource the same way.
 */
export function acknowledgeWildcardResource(
  scope: IConstruct,
  resource: string,
  reason: string,
): void {
  const flat = flattenReference(Stack.of(scope).resolve(resource));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
}

function flattenReference(node: unknown): string {
  if (typeof node === 'string') {
    return node;
  }
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    if (Array.isArray(record['Fn::Join'])) {
      const [delimiter, parts] = record['Fn::Join'] as [string, unknown[]];
      return parts.map(flattenReference).join(delimiter);
    }
    if (Array.isArray(record['Fn::GetAtt'])) {
      const [logicalId, attribute] = record['Fn::GetAtt'] as [string, string];
      return `<${logicalId}.${attribute}>`;
    }
    if (typeof record.Ref === 'string') {
      return `<${record.Ref}>`;
    }
  }
  return JSON.stringify(node);
}
