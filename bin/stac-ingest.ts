import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InvalidSettingsError, type StacIngestSettings, settingsFromContext } from '../lib/config';
import { StacIngestStack } from '../lib/stac-ingest-stack';

const app = new App();
const stackName: string = app.node.tryGetContext('stackName') ?? 'StacIngest';

let settings: StacIngestSettings;
try {
  settings = settingsFromContext(app.node);
} catch (error) {
  if (error instanceof InvalidSettingsError) {
    // The message lists every problem, so a stack trace would only hide it.
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

new StacIngestStack(app, stackName, {
  ...settings,
  description: 'Publishes files dropped into an S3 bucket as assets of a STAC API',
  // Both variables are unset without AWS credentials, which gives an
  // environment-agnostic template that synthesizes offline.
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: process.env.CDK_DEFAULT_REGION,
  },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
