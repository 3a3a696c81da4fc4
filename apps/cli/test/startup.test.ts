import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_NAMES } from '@showo/runtime';
import { BACKEND_CHOICES } from '../src/context.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'showo.js');

// Preloaded into the child: on exit, reports whether TensorFlow.js was loaded (tfjs-core puts its engine on the
// global object when it is first imported).
const PROBE = `data:text/javascript,process.on('exit', () => process.stderr.write('tfjs loaded: ' + ('_tfengine' in globalThis) + '\\n'))`;

function bin(args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', PROBE, BIN, ...args], { encoding: 'utf8' }, (error, _stdout, stderr) => {
      resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

test('help and usage errors answer without loading TensorFlow.js; a command loads it when it runs', async () => {
  const [help, commandHelp, usage, run] = await Promise.all([
    bin(['--help']),
    bin(['t2i', '--help']),
    bin(['t2i', 'a red circle', '--steps', '0']),
    bin(['inspect', '/no/such/checkpoint.safetensors']),
  ]);
  assert.equal(help.status, 0);
  assert.match(help.stderr, /tfjs loaded: false/);
  assert.equal(commandHelp.status, 0);
  assert.match(commandHelp.stderr, /tfjs loaded: false/);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /tfjs loaded: false/);
  // The probe sees it when it is there: an action loads its implementation (and with it the runtime).
  assert.equal(run.status, 1);
  assert.match(run.stderr, /does not exist/);
  assert.match(run.stderr, /tfjs loaded: true/);
});

test('the --backend choices are the backends of @showo/runtime', () => {
  assert.deepEqual([...BACKEND_CHOICES], [...BACKEND_NAMES]);
});
