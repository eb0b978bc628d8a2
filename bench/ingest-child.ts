/**
 * Child process of the benchmark, bundled by esbuild and run with plain node so that its peak
 * resident memory is the ingest's own. It reads a job from the JSON file named by argv[2], runs it
 * against the already-running local stack and writes one JSON line of results to stdout.
 *
 * - `ingest`: invokes the batch handler once per key, each with a plain S3 event of one record,
 *   in a warm container: the secret read and the login happen before the clock starts.
 * - `baseline`: reads the object once with GetObject, hashes it with SHA-256 and streams it once
 *   to a presigned part URL of the STAC API emulator, in one pipeline.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Readable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { createAwsClients, createBatchHandler } from '../lambdas/ingest/runtime';
import type { LocalStackInfo } from '../local/stack';

/** Job that the benchmark sends to the child. */
export interface ChildJob {
  readonly mode: 'ingest' | 'baseline';
  readonly info: LocalStackInfo;
  readonly keys: string[];
  /** Base64 MD5 of the object, which the baseline's upload is created with. */
  readonly md5?: string;
}

/** Result line that the child writes. */
export interface ChildResult {
  readonly wallMs: number;
  /** Peak resident set size of the child, in bytes. */
  readonly maxRssBytes: number;
  readonly failedKeys: number;
  /** S3 commands the function sent, by command name. */
  readonly s3Commands: Record<string, number>;
  readonly stacRequests: number;
  readonly secretReads: number;
  readonly logins: number;
}

function s3Event(bucket: string, key: string): S3Event {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-central-1',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'bench' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'bench', 'x-amz-id-2': 'bench' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'bench',
          bucket: {
            name: bucket,
            ownerIdentity: { principalId: 'bench' },
            arn: `arn:aws:s3:::${bucket}`,
          },
          object: {
            key: encodeURIComponent(key).replace(/%20/g, '+'),
            size: 0,
            eTag: '',
            sequencer: '0',
          },
        },
      },
    ],
  };
}

function createClients(info: LocalStackInfo) {
  const clients = createAwsClients({
    endpoint: info.s3Endpoint,
    region: info.region,
    credentials: info.credentials,
    forcePathStyle: true,
  });
  const s3Commands: Record<string, number> = {};
  clients.s3.middlewareStack.add(
    (next, context) => (args) => {
      const name = String(context.commandName);
      s3Commands[name] = (s3Commands[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return { clients, s3Commands };
}

function environment(info: LocalStackInfo): Record<string, string | undefined> {
  return { ...process.env, STAC_API_URL: info.stacApiUrl, SECRET_ID: info.secretId };
}

async function runIngest(job: ChildJob): Promise<ChildResult> {
  const { clients, s3Commands } = createClients(job.info);
  const logger = new Logger({ serviceName: 'stac-ingest-bench', logLevel: 'WARN' });
  const handler = createBatchHandler({ logger, clients, env: environment(job.info) });

  // A warm container: the first invocation builds the runtime, and the token is fetched (one
  // secret read and one login) before the clock starts.
  await handler({ Records: [] });
  await handler.runtime()?.tokens.getToken();

  let failedKeys = 0;
  const started = performance.now();
  for (const key of job.keys) {
    const response = await handler(s3Event(job.info.bucket, key));
    failedKeys += response.batchItemFailures.length;
  }
  const wallMs = performance.now() - started;

  const runtime = handler.runtime();
  return {
    wallMs,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    failedKeys,
    s3Commands,
    stacRequests: runtime?.stac.requestCount ?? 0,
    secretReads: runtime?.secrets.readCount ?? 0,
    logins: runtime?.tokens.stats.logins ?? 0,
  };
}

/** Streams `body` to a presigned part URL with its Content-MD5, hashing it with SHA-256 on the way. */
function putHashed(url: string, body: Readable, md5: string, size: number): Promise<string> {
  const sha256 = createHash('sha256');
  return new Promise((resolve, reject) => {
    const put = request(
      url,
      { method: 'PUT', headers: { 'Content-MD5': md5, 'Content-Length': String(size) } },
      (response) => {
        response.resume();
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(sha256.digest('hex'))
            : reject(new Error(`PUT of the baseline part failed with HTTP ${response.statusCode}`)),
        );
      },
    );
    put.on('error', reject);
    body.on('error', reject);
    body.on('data', (chunk: Buffer) => sha256.update(chunk));
    body.pipe(put);
  });
}

async function runBaseline(job: ChildJob): Promise<ChildResult> {
  const { clients, s3Commands } = createClients(job.info);
  const logger = new Logger({ serviceName: 'stac-ingest-bench', logLevel: 'WARN' });
  const handler = createBatchHandler({ logger, clients, env: environment(job.info) });
  // The runtime (secret, token, API client) is built by the first invocation; an empty event
  // builds it without ingesting anything.
  await handler({ Records: [] });
  const stac = handler.runtime()?.stac;
  if (stac === undefined || job.md5 === undefined) throw new Error('Baseline setup failed.');

  const key = job.keys[0];
  const target = {
    collection: 'ch.swisstopo.ingest-demo',
    item: 'demo-item',
    asset: `baseline-${Date.now()}.tif`,
  };
  await stac.putAsset(target, {
    id: target.asset,
    type: 'image/tiff; application=geotiff; profile=cloud-optimized',
  });
  const upload = await stac.createUpload(target, {
    number_parts: 1,
    md5_parts: [{ part_number: 1, md5: job.md5 }],
    'file:checksum': `1220${'0'.repeat(64)}`,
  });
  const url = upload.urls?.[0]?.url;
  if (url === undefined) throw new Error('The baseline upload has no part URL.');
  const requestsBefore = stac.requestCount;

  const started = performance.now();
  const object = await clients.s3.send(new GetObjectCommand({ Bucket: job.info.bucket, Key: key }));
  await putHashed(url, object.Body as Readable, job.md5, object.ContentLength ?? 0);
  const wallMs = performance.now() - started;

  await stac.abortUpload(target, upload.upload_id);
  return {
    wallMs,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    failedKeys: 0,
    s3Commands,
    stacRequests: stac.requestCount - requestsBefore,
    secretReads: 0,
    logins: 0,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as ChildJob;
  const result = job.mode === 'baseline' ? await runBaseline(job) : await runIngest(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
