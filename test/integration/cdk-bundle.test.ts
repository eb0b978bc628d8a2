import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { S3Event, SQSBatchResponse, SQSEvent, SQSRecordAttributes } from 'aws-lambda';
import { type LocalStack, startLocalStack } from '../../local/stack';

const REPOSITORY_ROOT = path.join(__dirname, '..', '..');
const RUNNER = path.join(__dirname, '..', 'helpers', 'invoke-bundle.cjs');
const SAMPLE = path.join(REPOSITORY_ROOT, 'samples', 'swissalti-demo-2056-2.tif');
const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';

/** Context of the synthesized app. No test contacts this URL or reads this secret. */
const CONTEXT = {
  stacApiUrl: 'https://stac.example.invalid/api/stac/v1',
  secretName: 'stac-ingest/service-user',
};

/** Maximum time of one invocation of the bundle, in ms. */
const INVOKE_TIMEOUT_MS = 60_000;

/** The ingest function as the synthesized template and asset manifest describe it. */
interface SynthesizedFunction {
  /** Absolute path of the bundled handler file in the cloud assembly. */
  readonly file: string;
  /** Name of the handler export, the part after the last dot of the handler string. */
  readonly exportName: string;
  /** Environment variables, some of them CloudFormation references such as `{ Ref }`. */
  readonly environment: Record<string, unknown>;
  readonly memoryMib: number;
  readonly timeoutSecs: number;
}

interface CloudFormationResource {
  Type: string;
  Properties: Record<string, unknown>;
}

interface AssetManifest {
  files: Record<
    string,
    {
      source: { path: string; packaging?: string };
      destinations: Record<string, { objectKey: string }>;
    }
  >;
}

/**
 * Synthesizes the app in bin/stac-ingest.ts into `outdir`, as `cdk synth` runs it, with no AWS
 * credentials in its environment.
 */
function synthesizeApp(outdir: string): void {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('CDK_')) env[name] = value;
  }
  const result = spawnSync(
    process.execPath,
    [require.resolve('tsx/cli'), path.join(REPOSITORY_ROOT, 'bin', 'stac-ingest.ts')],
    {
      cwd: REPOSITORY_ROOT,
      encoding: 'utf8',
      env: { ...env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(CONTEXT) },
    },
  );
  if (result.status !== 0) {
    throw new Error(`Synthesis failed with status ${result.status}:\n${result.stderr}`);
  }
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/**
 * Finds the ingest function in the cloud assembly: the Lambda function whose STAC_API_URL is
 * the context value, and its bundle through the S3 key of its code in the asset manifest.
 */
function findIngestFunction(outdir: string): SynthesizedFunction {
  const manifest = readJson<{
    artifacts: Record<
      string,
      { type: string; properties?: { templateFile?: string; file?: string } }
    >;
  }>(path.join(outdir, 'manifest.json'));
  const artifacts = Object.values(manifest.artifacts);
  const stacks = artifacts.filter((artifact) => artifact.type === 'aws:cloudformation:stack');
  expect(stacks).toHaveLength(1);
  const template = readJson<{ Resources: Record<string, CloudFormationResource> }>(
    path.join(outdir, String(stacks[0].properties?.templateFile)),
  );

  const functions = Object.values(template.Resources).filter((resource) => {
    const environment = resource.Properties.Environment as
      | { Variables?: Record<string, string> }
      | undefined;
    return (
      resource.Type === 'AWS::Lambda::Function' &&
      environment?.Variables?.STAC_API_URL === CONTEXT.stacApiUrl
    );
  });
  expect(functions).toHaveLength(1);
  const properties = functions[0].Properties as {
    Code: { S3Key: unknown };
    Handler: string;
    Environment: { Variables: Record<string, unknown> };
    MemorySize: number;
    Timeout: number;
  };
  // Each asset is named by a content hash, so the S3 key is a plain string.
  expect(typeof properties.Code.S3Key).toBe('string');

  const assetDirs: string[] = [];
  for (const artifact of artifacts.filter((a) => a.type === 'cdk:asset-manifest')) {
    const assets = readJson<AssetManifest>(path.join(outdir, String(artifact.properties?.file)));
    for (const asset of Object.values(assets.files)) {
      const keys = Object.values(asset.destinations).map((destination) => destination.objectKey);
      if (keys.includes(properties.Code.S3Key as string) && asset.source.packaging === 'zip') {
        assetDirs.push(path.join(outdir, asset.source.path));
      }
    }
  }
  expect(assetDirs).toHaveLength(1);

  // Lambda reads the handler string as <file without .js>.<export name>.
  const separator = properties.Handler.lastIndexOf('.');
  return {
    file: path.join(assetDirs[0], `${properties.Handler.slice(0, separator)}.js`),
    exportName: properties.Handler.slice(separator + 1),
    environment: properties.Environment.Variables,
    memoryMib: properties.MemorySize,
    timeoutSecs: properties.Timeout,
  };
}

/** Receives the one queue message that S3 sent for `key`, waiting up to 20 s. */
async function receiveNotification(stack: LocalStack, key: string): Promise<Message> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const output = await stack.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.aws.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 2,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = output.Messages ?? [];
    if (messages.length > 0) {
      expect(messages).toHaveLength(1);
      const notification = JSON.parse(String(messages[0].Body)) as S3Event;
      // S3 form-encodes keys in notifications, and moto 5.2.1 also encodes the slashes.
      const keys = notification.Records.map((record) =>
        decodeURIComponent(record.s3.object.key.replace(/\+/g, ' ')),
      );
      expect(keys).toEqual([key]);
      return messages[0];
    }
  }
  throw new Error(`No notification for ${key} arrived in ${stack.aws.queueUrl} within 20 s`);
}

/** Builds the SQS event that the Lambda event source mapping passes for one message. */
function toSqsEvent(stack: LocalStack, message: Message): SQSEvent {
  return {
    Records: [
      {
        messageId: String(message.MessageId),
        receiptHandle: String(message.ReceiptHandle),
        body: String(message.Body),
        attributes: message.Attributes as unknown as SQSRecordAttributes,
        messageAttributes: {},
        md5OfBody: String(message.MD5OfBody),
        eventSource: 'aws:sqs',
        eventSourceARN: stack.aws.queueArn,
        awsRegion: stack.aws.region,
      },
    ],
  };
}

interface Invocation {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly response?: { result?: SQSBatchResponse; error?: { message: string; stack?: string } };
}

/**
 * Runs the bundle in a new Node.js process with exactly `env` as its environment and invokes
 * its handler once with `event`. The process runs asynchronously because the STAC API emulator
 * serves the bundle's requests from this process.
 */
function invokeBundle(
  fn: SynthesizedFunction,
  env: Record<string, string>,
  event: SQSEvent,
  workDir: string,
): Promise<Invocation> {
  const requestFile = path.join(workDir, 'request.json');
  const responseFile = path.join(workDir, 'response.json');
  fs.writeFileSync(
    requestFile,
    JSON.stringify({
      file: fn.file,
      exportName: fn.exportName,
      event,
      functionName: 'stac-ingest-bundle-test',
      memoryMib: fn.memoryMib,
      timeoutSecs: fn.timeoutSecs,
    }),
  );

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, requestFile, responseFile], {
      cwd: path.dirname(fn.file),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`The bundle invocation timed out after ${INVOKE_TIMEOUT_MS} ms:\n${stdout}`),
      );
    }, INVOKE_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const response = fs.existsSync(responseFile)
        ? (JSON.parse(fs.readFileSync(responseFile, 'utf8')) as Invocation['response'])
        : undefined;
      resolve({ status, stdout, stderr, response });
    });
  });
}

/** Log entries of the Powertools logger at `level`, from JSON lines on stdout. */
function logEntries(stdout: string, level: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.level === level);
}

describe('synthesized function bundle', () => {
  let workDir: string;
  let stack: LocalStack;
  let fn: SynthesizedFunction;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stac-ingest-bundle-'));
    // The cloud assembly lies outside the repository, so the bundle cannot resolve a
    // module from the repository's node_modules that esbuild left out.
    synthesizeApp(path.join(workDir, 'cdk.out'));
    fn = findIngestFunction(path.join(workDir, 'cdk.out'));
    stack = await startLocalStack({ poll: false, stateFile: false });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('template sets the function settings', () => {
    expect(fn.environment.STAC_API_URL).toBe(CONTEXT.stacApiUrl);
    expect(fn.environment.SECRET_ID).toBe(CONTEXT.secretName);
    expect(fn.environment.DEAD_LETTER_QUEUE_URL).toEqual({
      Ref: expect.stringMatching(/^IngestDeadLetterQueue/),
    });
    expect(fn.exportName).toBe('handler');
    expect(path.basename(fn.file)).toBe('index.js');
    expect(fs.existsSync(fn.file)).toBe(true);
  });

  test('bundle ingests a real notification', async () => {
    // Arrange
    const body = fs.readFileSync(SAMPLE);
    const key = `${COLLECTION}/${ITEM}/${path.basename(SAMPLE)}`;
    await stack.clients.s3.send(
      new PutObjectCommand({ Bucket: stack.aws.bucket, Key: key, Body: body }),
    );
    const event = toSqsEvent(stack, await receiveNotification(stack, key));
    // The environment starts from the template's variables, as in Lambda, with nothing
    // from this process. The S3, Secrets Manager and Cognito clients reach moto_server
    // only through AWS_ENDPOINT_URL, because the object, the secret and the user pool
    // exist only there.
    const env: Record<string, unknown> = {
      ...fn.environment,
      STAC_API_URL: stack.info.stacApiUrl,
      SECRET_ID: stack.info.secretId,
      DEAD_LETTER_QUEUE_URL: stack.aws.deadLetterQueueUrl,
      AWS_ENDPOINT_URL: stack.aws.endpoint,
      AWS_REGION: stack.aws.region,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      S3_FORCE_PATH_STYLE: 'true',
      // Keeps the SDK from reading a profile or endpoint from the developer's ~/.aws.
      AWS_CONFIG_FILE: path.join(workDir, 'aws-config-absent'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(workDir, 'aws-credentials-absent'),
      AWS_LAMBDA_FUNCTION_NAME: 'stac-ingest-bundle-test',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMib),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    };
    // The template gives the queue URL as a reference, which the override above replaces.
    for (const [name, value] of Object.entries(env)) {
      expect({ name, type: typeof value }).toEqual({ name, type: 'string' });
    }

    // Act
    const invocation = await invokeBundle(fn, env as Record<string, string>, event, workDir);

    // Assert
    // stderr is part of the value so that a failing runner shows its output. On Node.js 20
    // it also contains the SDK's warning that later versions require Node.js 22.
    expect({ status: invocation.status, stderr: invocation.stderr }).toEqual({
      status: 0,
      stderr: expect.any(String),
    });
    expect(invocation.response?.error).toBeUndefined();
    expect(invocation.response?.result).toEqual({ batchItemFailures: [] });
    expect(logEntries(invocation.stdout, 'ERROR')).toEqual([]);
    const asset = stack.stac.getAsset(COLLECTION, ITEM, path.basename(SAMPLE));
    expect(asset).toBeDefined();
    const multihash = `1220${createHash('sha256').update(body).digest('hex')}`;
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
  }, 120_000);
});
