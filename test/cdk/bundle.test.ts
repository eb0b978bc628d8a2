import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StacIngestStack } from '../../lib/stac-ingest-stack';
import { BASE_SETTINGS } from './stack-fixture';

const REPOSITORY_ROOT = path.join(__dirname, '..', '..');

describe('function bundle', () => {
  let outdir: string;

  beforeAll(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'stac-ingest-cdk-'));
  });

  afterAll(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('esbuild writes index.js with the SDK inside', () => {
    const app = new App({ outdir });
    const stack = new StacIngestStack(app, 'Bundle', {
      ...BASE_SETTINGS,
      entry: path.join(__dirname, 'fixtures', 'handler.ts'),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
    });

    const assembly = app.synth();
    const assets = fs
      .readdirSync(assembly.directory)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => path.join(assembly.directory, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'index.js')));
    expect(assets).toHaveLength(1);
    expect(fs.readdirSync(assets[0]).sort()).toEqual(['index.js', 'index.js.map']);

    const bundle = fs.readFileSync(path.join(assets[0], 'index.js'), 'utf8');
    // A bundle that relied on the runtime's SDK would require its clients by name.
    // The SDK itself requires the optional CRT signer inside try/catch, and only for
    // multi-region access points, so that name stays unresolved.
    const requiredPackages = [...bundle.matchAll(/require\("(@[\w-]+\/[\w-]+)/g)].map(
      (match) => match[1],
    );
    expect([...new Set(requiredPackages)]).toEqual(['@aws-sdk/signature-v4-crt']);
    expect(bundle.endsWith('//# sourceMappingURL=index.js.map\n')).toBe(true);
  });
});

describe('app entry point', () => {
  test('invalid context exits with every problem', () => {
    const result = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), path.join(REPOSITORY_ROOT, 'bin', 'stac-ingest.ts')],
      {
        cwd: REPOSITORY_ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          CDK_OUTDIR: fs.mkdtempSync(path.join(os.tmpdir(), 'stac-ingest-bin-')),
          CDK_CONTEXT_JSON: JSON.stringify({
            stacApiUrl: 'http://stac.example.invalid',
            batchSize: '0',
          }),
        },
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'Invalid stac-ingest settings (3 problems). Set each value with -c KEY=VALUE or in the "context" object of cdk.json:',
      '  - stacApiUrl: "http://stac.example.invalid" uses http. Use https, because http is allowed only for localhost and 127.0.0.1.',
      '  - secretArn, secretName: missing. Set exactly one of them to the secret with the STAC API credentials.',
      '  - batchSize: invalid value 0. Use an integer from 1 to 10.',
    ]);
  });
});
