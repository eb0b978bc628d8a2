/**
 * Benchmark of the ingest on the local stack (moto_server and the STAC API emulator on
 * 127.0.0.1). It writes a Markdown report, docs/benchmarks.md by default.
 *
 * Usage: npx tsx bench/run.ts [--sizes-mib 1,64,1024] [--small-files 1000] [--out FILE]
 *
 * Each ingest and each baseline runs in a child process (bench/ingest-child.ts, bundled by
 * esbuild and run with plain node), so the peak resident memory is that of the ingest alone.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { type LocalStack, startLocalStack } from '../local/stack';
import type { ChildJob, ChildResult } from './ingest-child';

const ROOT = resolve(__dirname, '..');
const MIB = 1024 * 1024;
const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';
const SMALL_FILE_BYTES = 10 * 1024;
const REQUIRE_RUNS = 7;

interface Options {
  sizesMib: number[];
  smallFiles: number;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    // A 3 GiB file (--sizes-mib 3072) is left out by default: moto_server reads the whole object
    // for each ranged GetObject, so its 240 ranged reads take about a quarter of an hour.
    sizesMib: [1, 64, 1024],
    smallFiles: 1000,
    out: join(ROOT, 'docs', 'benchmarks.md'),
  };
  for (let index = 0; index < argv.length; index += 2) {
    const [name, value] = [argv[index], argv[index + 1]];
    if (name === '--sizes-mib') options.sizesMib = value.split(',').map(Number);
    else if (name === '--small-files') options.smallFiles = Number(value);
    else if (name === '--out') options.out = resolve(value);
    else throw new Error(`Unknown option ${name}: use --sizes-mib, --small-files or --out.`);
  }
  if (options.sizesMib.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new Error('Invalid --sizes-mib: expected whole numbers of MiB, such as 1,64,1024.');
  }
  return options;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Bundles an entry as the CDK stack bundles the handler: minified CommonJS for node22. */
async function bundle(entry: string, outfile: string): Promise<number> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    logLevel: 'error',
  });
  return statSync(outfile).size;
}

/** Median time to `require` a bundle in a fresh node process, in milliseconds. */
function requireTimeMs(file: string): number[] {
  const script =
    'const t=process.hrtime.bigint();require(process.argv[1]);' +
    'process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  return Array.from({ length: REQUIRE_RUNS }, () =>
    Number(execFileSync(process.execPath, ['-e', script, file], { encoding: 'utf8' })),
  );
}

function runChild(childFile: string, job: ChildJob, workDir: string): Promise<ChildResult> {
  const jobFile = join(workDir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [childFile, jobFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr = `${stderr}${chunk}`.slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`The benchmark child exited with code ${code}:\n${stderr}`));
        return;
      }
      resolvePromise(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ChildResult);
    });
  });
}

/** Puts an object of `size` bytes of random 1 MiB blocks and returns its base64 MD5. */
async function putObject(stack: LocalStack, key: string, size: number): Promise<string> {
  const block = randomBytes(MIB);
  const md5 = createHash('md5');
  async function* generate() {
    for (let offset = 0; offset < size; offset += MIB) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MIB, size - offset)));
      chunk.writeUInt32LE(offset / MIB, 0);
      md5.update(chunk);
      yield chunk;
    }
  }
  await stack.clients.s3.send(
    new PutObjectCommand({
      Bucket: stack.info.bucket,
      Key: key,
      Body: Readable.from(generate(), { objectMode: false }),
      ContentLength: size,
    }),
  );
  return md5.digest('base64');
}

/** Times one GetObject of the whole object and one of its first 16 MiB, read to the end. */
async function timeS3Reads(stack: LocalStack, key: string, size: number) {
  const read = async (range?: string) => {
    const started = performance.now();
    const output = await stack.clients.s3.send(
      new GetObjectCommand({ Bucket: stack.info.bucket, Key: key, Range: range }),
    );
    for await (const _chunk of output.Body as Readable) {
      // Drains the body.
    }
    return performance.now() - started;
  };
  const wholeMs = await read();
  const rangeMs = await read(`bytes=0-${Math.min(16 * MIB, size) - 1}`);
  return { wholeMs, rangeMs };
}

interface SizeRow {
  sizeMib: number;
  parts: number;
  ingest: ChildResult;
  baseline: ChildResult;
  wholeGetMs: number;
  rangedGetMs: number;
}

async function benchmarkSize(
  stack: LocalStack,
  childFile: string,
  workDir: string,
  sizeMib: number,
): Promise<SizeRow> {
  const size = sizeMib * MIB;
  const key = `${COLLECTION}/${ITEM}/bench-${sizeMib}mib.tif`;
  process.stderr.write(`Putting ${sizeMib} MiB into the local S3\n`);
  const md5 = await putObject(stack, key, size);
  const reads = await timeS3Reads(stack, key, size);

  process.stderr.write(`Baseline for ${sizeMib} MiB\n`);
  const baseline = await runChild(
    childFile,
    { mode: 'baseline', info: stack.info, keys: [key], md5 },
    workDir,
  );
  process.stderr.write(`Ingest of ${sizeMib} MiB\n`);
  const ingest = await runChild(
    childFile,
    { mode: 'ingest', info: stack.info, keys: [key] },
    workDir,
  );
  if (ingest.failedKeys > 0) throw new Error(`The ingest of ${key} failed.`);

  await stack.clients.s3.send(new DeleteObjectCommand({ Bucket: stack.info.bucket, Key: key }));
  const parts = stack.stac.requestLog.filter(
    (entry) => entry.method === 'PUT' && entry.path.includes('/_upload/'),
  ).length;
  stack.stac.requestLog.length = 0;
  return {
    sizeMib,
    // The baseline sends one part as well.
    parts: parts - 1,
    ingest,
    baseline,
    wholeGetMs: reads.wholeMs,
    rangedGetMs: reads.rangeMs,
  };
}

async function benchmarkSmallFiles(
  stack: LocalStack,
  childFile: string,
  workDir: string,
  count: number,
) {
  process.stderr.write(`Putting ${count} files of 10 KiB\n`);
  const keys = Array.from(
    { length: count },
    (_, index) => `${COLLECTION}/${ITEM}/small-${index}.tif`,
  );
  const body = randomBytes(SMALL_FILE_BYTES);
  for (let index = 0; index < keys.length; index += 16) {
    await Promise.all(
      keys
        .slice(index, index + 16)
        .map((key) =>
          stack.clients.s3.send(
            new PutObjectCommand({ Bucket: stack.info.bucket, Key: key, Body: body }),
          ),
        ),
    );
  }
  stack.stac.requestLog.length = 0;
  process.stderr.write(`Ingest of ${count} files of 10 KiB\n`);
  const result = await runChild(childFile, { mode: 'ingest', info: stack.info, keys }, workDir);
  if (result.failedKeys > 0) throw new Error(`${result.failedKeys} of the small files failed.`);
  const byRequest = new Map<string, number>();
  for (const entry of stack.stac.requestLog) {
    const kind = `${entry.method} ${describePath(entry.path)}`;
    byRequest.set(kind, (byRequest.get(kind) ?? 0) + 1);
  }
  return { count, result, byRequest };
}

/** Names the kind of a STAC API emulator path, without its ids. */
function describePath(path: string): string {
  if (path.includes('/_upload/')) return 'presigned part URL';
  if (path.endsWith('/complete')) return 'upload complete';
  if (path.endsWith('/uploads')) return 'uploads';
  if (path.includes('/assets/')) return 'asset';
  return path;
}

function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function formatMib(bytes: number): string {
  return `${(bytes / MIB).toFixed(0)} MiB`;
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((total, value) => total + value, 0);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const workDir = mkdtempSync(join(tmpdir(), 'stac-ingest-bench-'));
  let stack: LocalStack | undefined;
  try {
    const handlerFile = join(workDir, 'handler', 'index.js');
    const handlerBytes = await bundle(join(ROOT, 'lambdas', 'ingest', 'handler.ts'), handlerFile);
    const requireMs = requireTimeMs(handlerFile);
    const childFile = join(workDir, 'child', 'index.js');
    await bundle(join(__dirname, 'ingest-child.ts'), childFile);

    stack = await startLocalStack({
      stateFile: false,
      poll: false,
      metrics: false,
      logLevel: 'WARN',
    });
    const rows: SizeRow[] = [];
    for (const sizeMib of options.sizesMib) {
      rows.push(await benchmarkSize(stack, childFile, workDir, sizeMib));
    }
    const small =
      options.smallFiles > 0
        ? await benchmarkSmallFiles(stack, childFile, workDir, options.smallFiles)
        : undefined;

    const report = renderReport({ options, handlerBytes, requireMs, rows, small });
    writeFileSync(options.out, report);
    process.stderr.write(`Wrote ${options.out}\n`);
  } finally {
    await stack?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function renderReport(input: {
  options: Options;
  handlerBytes: number;
  requireMs: number[];
  rows: SizeRow[];
  small?: Awaited<ReturnType<typeof benchmarkSmallFiles>>;
}): string {
  const { options, handlerBytes, requireMs, rows, small } = input;
  const lines: string[] = [];
  const args = process.argv.slice(2).join(' ');
  lines.push('# Benchmarks', '');
  lines.push(
    `Written by \`npx tsx bench/run.ts${args === '' ? '' : ` ${args}`}\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `Machine: ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ` +
      `${(totalmem() / 1024 ** 3).toFixed(0)} GiB of memory, node ${process.version}, ` +
      `moto_server ${motoVersion()}, everything on 127.0.0.1.`,
    '',
  );

  lines.push('## Files of one size', '');
  lines.push(
    'Ingest: one handler invocation in a child process with a warm runtime (secret read and ' +
      'Cognito login done before the clock starts), from the S3 event to the asset read back. ' +
      'Baseline, in the same run: ' +
      'one GetObject of the same object from the same moto_server, hashed with SHA-256 and ' +
      'streamed once to a presigned part URL of the same emulator. Peak RSS is ' +
      '`process.resourceUsage().maxRSS` of the child.',
    '',
    '| Size | Parts | Ingest | Throughput | Peak RSS | Baseline | Baseline RSS | Ratio | S3 GetObject | Whole GET | 16 MiB ranged GET |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of rows) {
    const throughput = row.sizeMib / (row.ingest.wallMs / 1000);
    lines.push(
      `| ${row.sizeMib} MiB | ${row.parts} | ${formatMs(row.ingest.wallMs)} | ` +
        `${throughput.toFixed(0)} MiB/s | ${formatMib(row.ingest.maxRssBytes)} | ` +
        `${formatMs(row.baseline.wallMs)} | ${formatMib(row.baseline.maxRssBytes)} | ` +
        `${(row.ingest.wallMs / row.baseline.wallMs).toFixed(2)} | ` +
        `${row.ingest.s3Commands.GetObjectCommand ?? 0} | ${formatMs(row.wholeGetMs)} | ` +
        `${formatMs(row.rangedGetMs)} |`,
    );
  }
  lines.push(
    '',
    '"Whole GET" and "16 MiB ranged GET" time one GetObject of the object from moto_server, ' +
      'outside the ingest.',
    '',
    'Where the ratio misses 1.5: the ingest reads the object twice (the hashing pass, then ' +
      'each part for its upload) in ranged GetObject requests, while the baseline reads it ' +
      'once in one request. moto_server 5.2.1 serves a ranged GetObject by reading the whole ' +
      'object and slicing it (`key.value` in its S3 responses). One 16 MiB ranged read of a ' +
      'large object so costs a good part of a whole read (compare the last two columns), and ' +
      'the GetObject column times that cost is the S3 share of the ingest. Against S3, a ' +
      'ranged read costs its own length. The emulator also copies the parts into one file and ' +
      'hashes it again on complete, which S3 and the real API do not do.',
    '',
    'For small files the ratio measures fixed costs, not bytes. The baseline makes two ' +
      'requests (one GetObject, one part PUT). The ingest makes nine: two HeadObject, one ' +
      'GetObject, and six to the API (read the asset, put its metadata, create the upload, ' +
      'send the part, complete, read the asset back). Each of them has a purpose: the second ' +
      'HeadObject catches an object overwritten during the upload, and the reads of the asset ' +
      'skip unchanged files and verify the stored checksum.',
    '',
  );

  if (small !== undefined) {
    const { count, result, byRequest } = small;
    lines.push(`## ${count} files of 10 KiB`, '');
    lines.push(
      `One child process (one warm container) invokes the handler once per file, one after ` +
        'the other.',
      '',
      '| Measure | Value |',
      '| --- | ---: |',
      `| Total time | ${formatMs(result.wallMs)} |`,
      `| Time per file | ${(result.wallMs / count).toFixed(1)} ms |`,
      `| STAC API requests per file (parts included) | ${(result.stacRequests / count).toFixed(2)} |`,
      `| S3 requests per file | ${(sum(result.s3Commands) / count).toFixed(2)} |`,
      `| Secrets Manager reads | ${result.secretReads} |`,
      `| Cognito logins | ${result.logins} |`,
      `| Peak RSS | ${formatMib(result.maxRssBytes)} |`,
      '',
      'Requests by kind:',
      '',
      '| Request | Count |',
      '| --- | ---: |',
      ...Object.entries(result.s3Commands).map(([name, value]) => `| S3 ${name} | ${value} |`),
      ...[...byRequest.entries()].map(([name, value]) => `| STAC API ${name} | ${value} |`),
      '',
    );
  }

  lines.push('## Bundle and module initialisation', '');
  lines.push(
    'esbuild bundle of lambdas/ingest/handler.ts as the CDK stack builds it (minified, AWS SDK ' +
      'bundled, target node22, CommonJS). Initialisation is the time to `require` the bundle in ' +
      `a fresh node process, median of ${REQUIRE_RUNS} runs on this machine's node ${process.version}.`,
    '',
    '| Measure | Value |',
    '| --- | ---: |',
    `| Bundle size | ${(handlerBytes / 1024).toFixed(0)} KiB |`,
    `| require time (median) | ${median(requireMs).toFixed(0)} ms |`,
    `| require time (min to max) | ${Math.min(...requireMs).toFixed(0)} to ${Math.max(...requireMs).toFixed(0)} ms |`,
    '',
  );
  void options;
  return `${lines.join('\n')}\n`;
}

function motoVersion(): string {
  try {
    return execFileSync('python3', ['-c', 'import moto; print(moto.__version__)'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return '(version unknown)';
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
