/** What `showo howto` writes besides the keyframes: a storyboard image and an HTML page of the steps. */
import type { RgbImage } from '@showo/sampler';

/** Nearest-neighbour upscaling, so 64×64 keyframes stay crisp in a storyboard and a browser. */
export function upscale(img: RgbImage, k: number): RgbImage {
  if (k === 1) return img;
  const w = img.width * k;
  const h = img.height * k;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / k) * img.width + Math.floor(x / k)) * 3;
      data[(y * w + x) * 3] = img.data[s]!;
      data[(y * w + x) * 3 + 1] = img.data[s + 1]!;
      data[(y * w + x) * 3 + 2] = img.data[s + 2]!;
    }
  }
  return { width: w, height: h, data };
}

/** Keyframes side by side on a light grey strip (each framed by a gap), one image. */
export function storyboard(frames: readonly RgbImage[], scale = 4, gap = 8): RgbImage {
  const big = frames.map((f) => upscale(f, scale));
  const fh = Math.max(1, ...big.map((f) => f.height));
  const width = gap + big.reduce((s, f) => s + f.width + gap, 0);
  const height = fh + 2 * gap;
  const data = new Uint8Array(width * height * 3).fill(224);
  let x0 = gap;
  for (const f of big) {
    for (let y = 0; y < f.height; y++) data.set(f.data.subarray(y * f.width * 3, (y + 1) * f.width * 3), ((gap + y) * width + x0) * 3);
    x0 += f.width + gap;
  }
  return { width, height, data };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A self-contained page: the question, then each step's text beside its keyframe (files relative to the page). */
export function howtoHtml(question: string, steps: readonly { text?: string; image?: string }[], storyboardFile?: string): string {
  const rows = steps
    .map(
      (s, k) =>
        `  <li><figure>${s.image ? `<img src="${escapeHtml(s.image)}" alt="keyframe ${k + 1}" width="256" height="256">` : ''}` +
        `<figcaption>${escapeHtml(s.text ?? `step ${k + 1}`)}</figcaption></figure></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(question)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; }
  ol { display: flex; gap: 1.5rem; list-style: none; padding: 0; flex-wrap: wrap; }
  img { image-rendering: pixelated; border: 1px solid #ccc; }
  figcaption { max-width: 256px; margin-top: .5rem; }
</style>
</head>
<body>
<h1>${escapeHtml(question)}</h1>
<ol>
${rows}
</ol>
${storyboardFile ? `<p><a href="${escapeHtml(storyboardFile)}">storyboard</a></p>\n` : ''}</body>
</html>
`;
}
