import fs from 'node:fs';
import path from 'node:path';
import { sharedDir } from '@showo/runtime';
import type { HowtoAction, Scene, SceneObject } from '@showo/shapes-world';

/**
 * The shared Shapes World folder, or `undefined` when it is absent outside CI (tests then skip). Under CI a
 * missing folder must fail, never skip: the caller asserts on `required`.
 */
export function publicDir(): { dir: string | undefined; required: boolean } {
  const dir = path.join(sharedDir(), 'shapes-world');
  const present = fs.existsSync(path.join(dir, 'SPEC.md'));
  return { dir: present ? dir : undefined, required: process.env.CI === 'true' };
}

/** Reads `name` from the shared folder. */
export function readPublic(dir: string, name: string): string {
  return fs.readFileSync(path.join(dir, name), 'utf8');
}

const key = (o: { shape: string; color: string; cx: number; cy: number }) => `${o.color} ${o.shape} @${o.cx},${o.cy}`;

/** Objects as sorted strings, so two object lists compare regardless of order. */
export function objectKeys(objs: readonly { shape: string; color: string; cx: number; cy: number }[]): string[] {
  return objs.map(key).sort();
}

function same(a: SceneObject, b: SceneObject): boolean {
  return a.shape === b.shape && a.color === b.color && a.size === b.size && a.cx === b.cx && a.cy === b.cy;
}

/**
 * Checks that `next` is `prev` after `action` by the SPEC's how-to rules (untouched objects keep everything);
 * returns a reason when it is not.
 */
export function howtoTransitionProblem(prev: Scene, action: HowtoAction, next: Scene): string | undefined {
  const p = prev.objects;
  const n = next.objects;
  switch (action.op) {
    case 'place':
    case 'add': {
      if (action.op === 'place' && p.length !== 0) return 'place on a non-empty scene';
      if (n.length !== p.length + 1) return 'add/place must add exactly one object';
      const added = n.filter((o) => !p.some((q) => same(o, q)));
      if (added.length !== 1) return 'objects changed besides the added one';
      const a = added[0]!;
      if (a.shape !== action.shape || a.color !== action.color) return 'added object differs from the step text';
      return undefined;
    }
    case 'paint': {
      if (n.length !== p.length) return 'paint changed the object count';
      const targets = p.filter((o) => o.shape === action.shape);
      if (targets.length !== 1) return 'paint target is not unique';
      for (let i = 0; i < p.length; i++) {
        const before = p[i]!;
        const after = n[i]!;
        const expected = before === targets[0] ? { ...before, color: action.color } : before;
        if (!same(expected, after)) return `object ${i} is not as expected after paint`;
      }
      if (targets[0]!.color === action.color) return 'paint to the same colour';
      return undefined;
    }
    case 'remove': {
      const targets = p.filter((o) => o.shape === action.shape && o.color === action.color);
      if (targets.length !== 1) return 'remove target is not unique';
      const kept = p.filter((o) => o !== targets[0]);
      if (kept.length !== n.length || kept.some((o, i) => !same(o, n[i]!))) return 'remove changed other objects';
      return undefined;
    }
  }
}
