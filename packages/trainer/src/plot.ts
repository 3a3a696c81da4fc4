import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '@showo/runtime';
import type { StepEvent } from './types.js';

/** One line of a chart: (x, y) points in drawing order. */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: readonly [number, number, number];
}

/** Options of {@link renderLossCurve}. */
export interface LossCurveOptions {
  width?: number;
  height?: number;
  /** Logarithmic y axis (default true: losses span decades). */
  logY?: boolean;
  title?: string;
  /** Exponential smoothing factor in [0, 1) applied to each series (0 = raw). Default 0. */
  smoothing?: number;
}

const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [23, 190, 207],
  [140, 86, 75],
];

// A 3×5 pixel font (rows top to bottom, 3 bits each, MSB = left column): enough for axis numbers and series names.
const GLYPHS: Record<string, string> = {
  '0': '75557', '1': '26227', '2': '71747', '3': '71717', '4': '55711', '5': '74717', '6': '74757', '7': '71111',
  '8': '75757', '9': '75717', '.': '00002', '-': '00700', '+': '02720', ':': '02020', '/': '11244', '_': '00007',
  ' ': '00000', '=': '07070', '(': '12221', ')': '42224',
  a: '25755', b: '65656', c: '34443', d: '65556', e: '74647', f: '74644', g: '34553', h: '55755', i: '72227',
  j: '11152', k: '55655', l: '44447', m: '57755', n: '65555', o: '25552', p: '65644', q: '25563', r: '65655',
  s: '34216', t: '72222', u: '55557', v: '55552', w: '55775', x: '55255', y: '55222', z: '71247',
};

class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, c: readonly [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }
  /** Bresenham line, `thick` pixels wide (square pen). */
  line(x0: number, y0: number, x1: number, y1: number, c: readonly [number, number, number], thick = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const r0 = -Math.floor((thick - 1) / 2);
    for (;;) {
      for (let a = 0; a < thick; a++) for (let b = 0; b < thick; b++) this.set(x0 + r0 + a, y0 + r0 + b, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }
  rect(x0: number, y0: number, w: number, h: number, c: readonly [number, number, number]): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }
  /** Text in the 3×5 font at `scale`; returns the width drawn. */
  text(s: string, x: number, y: number, c: readonly [number, number, number], scale = 2): number {
    let cx = x;
    for (const ch of s.toLowerCase()) {
      const g = GLYPHS[ch] ?? GLYPHS[' '];
      for (let row = 0; row < 5; row++) {
        const bits = Number(g[row]);
        for (let col = 0; col < 3; col++) if (bits & (4 >> col)) this.rect(cx + col * scale, y + row * scale, scale, scale, c);
      }
      cx += 4 * scale;
    }
    return cx - x;
  }
}

function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}

function smooth(points: ReadonlyArray<readonly [number, number]>, alpha: number): Array<[number, number]> {
  if (!(alpha > 0)) return points.map(([x, y]) => [x, y]);
  let s: number | undefined;
  return points.map(([x, y]) => {
    s = s === undefined ? y : alpha * s + (1 - alpha) * y;
    return [x, s];
  });
}

/** Draws the series as a line chart (axes, tick labels, legend) and returns the PNG bytes. */
export function renderLossCurve(series: readonly Series[], options: LossCurveOptions = {}): Buffer {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const logY = options.logY ?? true;
  const cv = new Canvas(width, height);
  const left = 70;
  const right = width - 20;
  const top = options.title ? 34 : 16;
  const bottom = height - 40;
  const fy = (v: number) => (logY ? Math.log10(Math.max(v, 1e-12)) : v);
  const data = series.map((s) => smooth(s.points, options.smoothing ?? 0).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0)));
  const xs = data.flat().map((p) => p[0]);
  const ys = data.flat().map((p) => fy(p[1]));
  let [xMin, xMax] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [yMin, yMax] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax - yMin < 1e-9) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (right - left);
  const py = (y: number) => bottom - ((y - yMin) / (yMax - yMin)) * (bottom - top);
  const grid: [number, number, number] = [230, 230, 230];
  const axis: [number, number, number] = [90, 90, 90];
  for (let i = 0; i <= 4; i++) {
    const yv = yMin + ((yMax - yMin) * i) / 4;
    const y = py(yv);
    cv.line(left, y, right, y, grid);
    const label = formatNumber(logY ? 10 ** yv : yv);
    cv.text(label, left - 6 - label.length * 8, Math.round(y) - 5, axis);
    const xv = xMin + ((xMax - xMin) * i) / 4;
    const x = px(xv);
    cv.line(x, top, x, bottom, grid);
    const xl = formatNumber(Math.round(xv));
    cv.text(xl, Math.round(x) - xl.length * 4, bottom + 8, axis);
  }
  cv.line(left, top, left, bottom, axis);
  cv.line(left, bottom, right, bottom, axis);
  cv.text('step', right - 32, bottom + 24, axis);
  if (options.title) cv.text(options.title, left, 10, [0, 0, 0]);
  data.forEach((pts, k) => {
    const c = series[k].color ?? PALETTE[k % PALETTE.length];
    for (let i = 1; i < pts.length; i++) cv.line(px(pts[i - 1][0]), py(fy(pts[i - 1][1])), px(pts[i][0]), py(fy(pts[i][1])), c, 2);
    if (pts.length === 1) cv.rect(Math.round(px(pts[0][0])) - 1, Math.round(py(fy(pts[0][1]))) - 1, 3, 3, c);
  });
  // Legend in the top-right corner.
  let ly = top + 4;
  for (let k = 0; k < series.length; k++) {
    const c = series[k].color ?? PALETTE[k % PALETTE.length];
    const w = series[k].name.length * 8 + 16;
    cv.rect(right - w - 4, ly, 10, 10, c);
    cv.text(series[k].name, right - w + 10, ly, [40, 40, 40]);
    ly += 16;
  }
  const png = new PNG({ width, height });
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    png.data[4 * i] = cv.data[j];
    png.data[4 * i + 1] = cv.data[j + 1];
    png.data[4 * i + 2] = cv.data[j + 2];
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** The total loss and each part as series over steps. */
export function lossSeries(events: ReadonlyArray<Pick<StepEvent, 'step' | 'loss' | 'parts'>>): Series[] {
  const total: Array<[number, number]> = [];
  const parts = new Map<string, Array<[number, number]>>();
  for (const e of events) {
    total.push([e.step, e.loss]);
    for (const [k, v] of Object.entries(e.parts)) {
      if (!parts.has(k)) parts.set(k, []);
      parts.get(k)!.push([e.step, v]);
    }
  }
  return [{ name: 'total', points: total }, ...[...parts].map(([name, points]) => ({ name, points }))];
}

/** Renders {@link lossSeries} of `events` and writes the PNG atomically. */
export function writeLossCurve(file: string, events: ReadonlyArray<Pick<StepEvent, 'step' | 'loss' | 'parts'>>, options: LossCurveOptions = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const smoothing = options.smoothing ?? (events.length > 200 ? 0.9 : 0);
  writeFileAtomic(file, renderLossCurve(lossSeries(events), { title: 'training loss', ...options, smoothing }));
}
