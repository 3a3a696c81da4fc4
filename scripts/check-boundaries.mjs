#!/usr/bin/env node
// Module-boundary check on the workspace's project graph: every project carries an nx tag `layer:N` in its
// package.json; a project may import only @showo packages of a strictly lower layer, only through their entry
// point (no deep imports), and never reach into another project by a relative path. Exit code 1 on violations.
// Usage: node scripts/check-boundaries.mjs [workspaceRoot]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function loadProjects(root) {
  const projects = [];
  for (const group of ['packages', 'apps']) {
    const dir = path.join(root, group);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const pj = path.join(dir, name, 'package.json');
      if (!fs.existsSync(pj)) continue;
      const json = JSON.parse(fs.readFileSync(pj, 'utf8'));
      const tag = (json.nx?.tags ?? []).find((t) => t.startsWith('layer:'));
      projects.push({ name: json.name, dir: path.join(dir, name), layer: tag ? Number(tag.slice(6)) : undefined, deps: { ...json.dependencies, ...json.peerDependencies } });
    }
  }
  return projects;
}

function sourceFiles(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(full, out);
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

export function checkBoundaries(root) {
  const projects = loadProjects(root);
  const byName = new Map(projects.map((p) => [p.name, p]));
  const violations = [];
  for (const p of projects) {
    if (p.layer === undefined) {
      violations.push(`${p.name}: no "layer:N" tag in package.json nx.tags`);
      continue;
    }
    for (const file of sourceFiles(path.join(p.dir, 'src')).concat(sourceFiles(path.join(p.dir, 'test')))) {
      const text = fs.readFileSync(file, 'utf8');
      const rel = path.relative(root, file);
      const isTest = file.startsWith(path.join(p.dir, 'test') + path.sep);
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          if (!target.startsWith(p.dir + path.sep)) violations.push(`${rel}: relative import "${spec}" leaves ${p.name}`);
          continue;
        }
        const scoped = spec.match(/^(@showo\/[^/]+)(\/.*)?$/);
        if (!scoped) continue;
        const [, pkg, sub] = scoped;
        if (pkg === p.name) {
          // Tests exercise the public entry point of their own package; sources must use relative imports.
          if (!isTest || sub) violations.push(`${rel}: imports its own package "${spec}" by name`);
          continue;
        }
        const target = byName.get(pkg);
        if (!target) {
          violations.push(`${rel}: imports unknown package "${pkg}"`);
          continue;
        }
        if (sub) violations.push(`${rel}: deep import "${spec}" (use the entry point "${pkg}")`);
        if (target.layer === undefined || target.layer >= p.layer) {
          violations.push(`${rel}: ${p.name} (layer ${p.layer}) imports ${pkg} (layer ${target.layer}); dependencies must point downwards`);
        }
        if (!(pkg in p.deps)) violations.push(`${rel}: imports ${pkg}, which is not declared in ${p.name}'s package.json`);
      }
    }
  }
  return violations;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const violations = checkBoundaries(root);
  for (const v of violations) console.error(`boundary: ${v}`);
  console.log(violations.length ? `${violations.length} boundary violation(s)` : 'module boundaries ok');
  process.exit(violations.length ? 1 : 0);
}
