import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { StacIngestSettings } from '../../lib/config';
import { StacIngestStack, type StacIngestStackProps } from '../../lib/stac-ingest-stack';

/** Smallest valid settings. The URL and secret are placeholders that no test contacts. */
export const BASE_SETTINGS: StacIngestSettings = {
  stacApiUrl: 'https://stac.example.invalid/api/stac/v1',
  secretName: 'stac-ingest/credentials',
};

/**
 * Builds the stack with prebuilt inline code, so that no test but the bundling test
 * runs esbuild.
 */
export function buildStack(overrides: Partial<StacIngestStackProps> = {}): {
  app: App;
  stack: StacIngestStack;
  template: Template;
} {
  const app = new App();
  const stack = new StacIngestStack(app, 'Test', {
    ...BASE_SETTINGS,
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    ...overrides,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** Resources of one type in the template, keyed by logical id. */
export function resourcesOfType(
  template: Template,
  type: string,
): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}
