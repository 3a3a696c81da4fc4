import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodePath from 'node:path';
import fs, { MemoryFsError, mountFiles, mountedFiles, unmountFiles } from '../src/shims/fs.js';
import path from '../src/shims/path.js';

const bytes = (...v: number[]) => new Uint8Array(v);

test('the in-memory fs serves mounted files to the calls the packages make', () => {
  unmountFiles();
  mountFiles({ '/m/showo/config.json': new TextEncoder().encode('{"a": 1}'), '/m/showo/model.safetensors': bytes(1, 2, 3, 4, 5) });
  assert.deepEqual(mountedFiles(), ['/m/showo/config.json', '/m/showo/model.safetensors']);
  assert.equal(fs.readFileSync('/m/showo/config.json', 'utf8'), '{"a": 1}');
  assert.equal(fs.readFileSync('/m/./showo/../showo/config.json', { encoding: 'utf8' }), '{"a": 1}');
  assert.deepEqual(fs.readFileSync('/m/showo/model.safetensors'), bytes(1, 2, 3, 4, 5));
  assert.equal(fs.existsSync('/m'), true);
  assert.equal(fs.existsSync('/m/showo'), true);
  assert.equal(fs.existsSync('/m/magvit'), false);
  assert.equal(fs.statSync('/m/showo').isDirectory(), true);
  assert.equal(fs.statSync('/m/showo/model.safetensors').isFile(), true);
  assert.equal(fs.statSync('/m/showo/model.safetensors').size, 5);

  // Positional reads, as SafetensorsReader makes them.
  const fd = fs.openSync('/m/showo/model.safetensors', 'r');
  assert.equal(fs.fstatSync(fd).size, 5);
  const into = new Uint8Array(4);
  assert.equal(fs.readSync(fd, into, 1, 2, 3), 2);
  assert.deepEqual(into, bytes(0, 4, 5, 0));
  assert.equal(fs.readSync(fd, into, 0, 4, 4), 1, 'a read past the end returns what is there');
  fs.closeSync(fd);
  assert.throws(() => fs.readSync(fd, into, 0, 1, 0), (e: unknown) => e instanceof MemoryFsError && e.code === 'EBADF');
  unmountFiles('/m/showo/config.json');
  assert.equal(fs.existsSync('/m/showo/config.json'), false);
  unmountFiles();
});

test('the in-memory fs fails like Node: missing files, folders read as files, writes', () => {
  unmountFiles();
  mountFiles([['/m/a.json', bytes(123, 125)]]);
  const code = (c: string) => (e: unknown) => e instanceof MemoryFsError && e.code === c && e.message.includes(c);
  assert.throws(() => fs.readFileSync('/m/b.json'), code('ENOENT'));
  assert.throws(() => fs.statSync('/nowhere'), code('ENOENT'));
  assert.throws(() => fs.openSync('/m/b.json', 'r'), code('ENOENT'));
  assert.throws(() => fs.readFileSync('/m'), code('EISDIR'));
  assert.throws(() => fs.openSync('/m/a.json', 'w'), code('EROFS'));
  assert.throws(() => fs.writeFileSync('/m/a.json'), code('EROFS'));
  assert.throws(() => fs.mkdirSync('/m/x'), code('EROFS'));
  unmountFiles();
});

test('the path shim agrees with node:path.posix', () => {
  const joins = [['a', 'b'], ['/a', '../b', 'c'], ['a/', '/b/'], ['', ''], ['.', 'x/../y'], ['../a', '..', '..']];
  for (const parts of joins) assert.equal(path.join(...parts), nodePath.posix.join(...parts), `join ${JSON.stringify(parts)}`);
  for (const p of ['/a/b/c', '/a', '/', 'a/b', 'a', '/a/b/']) assert.equal(path.dirname(p), nodePath.posix.dirname(p), `dirname ${p}`);
  for (const p of ['/a/b.json', 'x.tar.gz', '/a/', '.hidden', 'noext']) {
    assert.equal(path.basename(p), nodePath.posix.basename(p), `basename ${p}`);
    assert.equal(path.extname(p), nodePath.posix.extname(p), `extname ${p}`);
  }
  // resolve() and relative() work against '/' as the working directory.
  for (const parts of [['/model', 'showo'], ['/model', '/other', 'x'], ['/a/b', '../c'], ['/a', '..', '..']]) {
    assert.equal(path.resolve(...parts), nodePath.posix.resolve(...parts), `resolve ${JSON.stringify(parts)}`);
  }
  for (const [a, b] of [['/m', '/m/showo/vocab.json'], ['/m/showo', '/m/magvit/x'], ['/a', '/a']]) {
    assert.equal(path.relative(a!, b!), nodePath.posix.relative(a!, b!), `relative ${a} ${b}`);
  }
  assert.equal(path.sep, '/');
});
