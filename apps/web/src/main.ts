/**
 * The web demo: the embedded Shapes World model in the browser. It draws a picture from a caption (MaskGIT, every
 * denoising step shown as it happens) and answers questions about the picture or an uploaded one (the answer
 * streamed token by token). The same packages as in Node run here; the build swaps `node:fs` for an in-memory
 * file system that holds the downloaded model folder.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createShowo, type RgbImage, type Showo } from '@showo/showo';
import { fetchModelFolder } from './model-files.js';

const MODEL_URL = './model/';
const MODEL_DIR = '/model';

const EXAMPLE_PROMPTS = ['a large red circle', 'a blue square on the left', 'a small green circle at the top', 'a yellow triangle', 'two red circles'];
const EXAMPLE_QUESTIONS = ['what color is the circle?', 'what shape is the red object?', 'how many circles are there?', 'describe the image.'];
const EXAMPLE_HOWTOS = ['how do i build a red circle and a blue square?', 'how do i build a green triangle above a yellow circle?', 'how do i build two blue squares?'];

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}
const input = (id: string) => $(id) as HTMLInputElement;
const button = (id: string) => $(id) as HTMLButtonElement;

function setStatus(text: string, progress?: number): void {
  $('status').textContent = text;
  const bar = $('progress') as HTMLProgressElement;
  if (progress === undefined) bar.removeAttribute('value');
  else bar.value = progress;
}

function fail(where: string, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  setStatus(`${where}: ${message}`, 0);
  $('status').classList.add('error');
  console.error(e);
}

/** Paints an RGB image onto a canvas (default: the drawing's), scaled up without smoothing (the model draws 64×64 pixels). */
function paint(image: RgbImage, canvas = $('canvas') as HTMLCanvasElement): void {
  const small = document.createElement('canvas');
  small.width = image.width;
  small.height = image.height;
  const rgba = new ImageData(image.width, image.height);
  for (let i = 0, j = 0; i < image.width * image.height; i++, j += 3) {
    rgba.data[i * 4] = image.data[j]!;
    rgba.data[i * 4 + 1] = image.data[j + 1]!;
    rgba.data[i * 4 + 2] = image.data[j + 2]!;
    rgba.data[i * 4 + 3] = 255;
  }
  small.getContext('2d')!.putImageData(rgba, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** Decodes an uploaded file into RGB pixels (the facade fits them to the model's size). */
async function readUpload(file: File): Promise<RgbImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${file.name} is not an image the browser can read`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    rgb[j] = data[i]!;
    rgb[j + 1] = data[i + 1]!;
    rgb[j + 2] = data[i + 2]!;
  }
  return { width: bitmap.width, height: bitmap.height, data: rgb };
}

function optionalNumber(id: string): number | undefined {
  const v = input(id).value.trim();
  return v === '' ? undefined : Number(v);
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const hasWebgpu = 'gpu' in navigator;
  const backend = params.get('backend') === 'webgpu' && hasWebgpu ? 'webgpu' : 'wasm';
  const select = $('backend') as HTMLSelectElement;
  select.value = backend;
  (select.querySelector('option[value=webgpu]') as HTMLOptionElement).disabled = !hasWebgpu;
  select.addEventListener('change', () => {
    params.set('backend', select.value);
    location.search = params.toString();
  });
  for (const [list, values] of [
    ['prompts', EXAMPLE_PROMPTS],
    ['questions', EXAMPLE_QUESTIONS],
    ['howto-questions', EXAMPLE_HOWTOS],
  ] as const) {
    for (const v of values) $(list).append(Object.assign(document.createElement('option'), { value: v }));
  }

  setStatus('downloading the model…', 0);
  const manifest = await fetchModelFolder(MODEL_URL, MODEL_DIR, {
    onProgress: (p) => setStatus(`downloading ${p.file} (${(p.loaded / 2 ** 20).toFixed(1)} of ${(p.total / 2 ** 20).toFixed(1)} MB)…`, p.loaded / p.total),
  });
  setStatus(`starting the ${backend} backend…`);
  setWasmPaths('./wasm/');
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  const showo: Showo = await createShowo({ model: MODEL_DIR, backend, workers: 1 });
  input('steps').placeholder = String(showo.defaults.t2i.steps);
  input('cfg').placeholder = String(showo.defaults.t2i.guidanceScale);
  $('model').textContent = `${manifest.name} · ${showo.backend.name} backend`;

  let current: RgbImage | undefined;
  let running: AbortController | undefined;
  const busy = (on: boolean) => {
    for (const id of ['draw', 'ask', 'howto']) button(id).disabled = on;
    button('stop').disabled = !on;
    document.body.dataset.state = on ? 'busy' : 'ready';
  };
  setStatus('ready', 1);
  busy(false);

  $('draw-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const prompt = input('prompt').value.trim();
    if (!prompt) return;
    running = new AbortController();
    busy(true);
    $('status').classList.remove('error');
    const started = performance.now();
    try {
      const seed = optionalNumber('seed');
      const steps = optionalNumber('steps');
      const guidanceScale = optionalNumber('cfg');
      const image = await showo
        .t2i(prompt, {
          ...(steps !== undefined ? { steps } : {}),
          ...(guidanceScale !== undefined ? { guidanceScale } : {}),
          ...(seed !== undefined ? { seed } : {}),
          preview: { every: 2 },
          signal: running.signal,
        })
        .image((e) => {
          if (e.type !== 'step') return;
          if (e.preview?.[0]) paint(e.preview[0]);
          setStatus(`drawing "${prompt}": step ${e.step + 1} of ${e.steps}`, e.ratio);
        });
      current = image;
      paint(image);
      $('caption').textContent = prompt;
      ($('download') as HTMLAnchorElement).href = ($('canvas') as HTMLCanvasElement).toDataURL('image/png');
      setStatus(`drew "${prompt}" in ${((performance.now() - started) / 1000).toFixed(1)} s`, 1);
    } catch (e) {
      if (running.signal.aborted) {
        setStatus('stopped', 0);
        if (current) paint(current);
      } else fail('drawing failed', e);
    } finally {
      busy(false);
    }
  });

  input('upload').addEventListener('change', async () => {
    const file = input('upload').files?.[0];
    if (!file) return;
    try {
      current = await readUpload(file);
      paint(current);
      $('caption').textContent = file.name;
      setStatus(`loaded ${file.name} (${current.width}×${current.height})`, 1);
    } catch (e) {
      fail('upload failed', e);
    }
  });

  $('ask-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const question = input('question').value.trim();
    if (!question) return;
    if (!current) {
      fail('no picture yet', new Error('draw one or upload one first'));
      return;
    }
    running = new AbortController();
    busy(true);
    $('status').classList.remove('error');
    $('answer').textContent = '';
    const started = performance.now();
    try {
      const answer = await showo.answer(current, question, { signal: running.signal }).answer((e) => {
        if (e.type === 'token' && e.text !== undefined) $('answer').textContent = e.text;
      });
      $('answer').textContent = answer;
      setStatus(`answered in ${((performance.now() - started) / 1000).toFixed(1)} s`, 1);
    } catch (e) {
      if (running.signal.aborted) setStatus('stopped', 0);
      else fail('answering failed', e);
    } finally {
      busy(false);
    }
  });

  // How-to: the model writes a step (free mode) or is given it (guided), then draws its keyframe, step after step.
  $('howto-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const question = input('howto-question').value.trim();
    if (!question) return;
    const given = ($('howto-steps') as HTMLTextAreaElement).value.split('\n').map((l) => l.trim()).filter(Boolean);
    running = new AbortController();
    busy(true);
    $('status').classList.remove('error');
    const list = $('howto-out');
    list.replaceChildren();
    const items: { text: HTMLElement; canvas: HTMLCanvasElement }[] = [];
    const item = (step: number) => {
      while (items.length <= step) {
        const li = document.createElement('li');
        const canvas = Object.assign(document.createElement('canvas'), { width: 160, height: 160 });
        const text = document.createElement('p');
        li.append(canvas, text);
        list.append(li);
        items.push({ text, canvas });
      }
      return items[step]!;
    };
    const started = performance.now();
    try {
      const seed = optionalNumber('seed');
      const steps = optionalNumber('steps');
      const result = await showo
        .howto(question, given.length ? given : undefined, {
          ...(steps !== undefined ? { steps } : {}),
          ...(seed !== undefined ? { seed } : {}),
          preview: { every: 4 },
          signal: running.signal,
        })
        .result((e) => {
          if (e.type === 'step-start') item(e.step).text.textContent = '…';
          else if (e.type === 'token' && e.text !== undefined) item(e.step).text.textContent = e.text;
          else if (e.type === 'text' && e.text !== undefined) item(e.step).text.textContent = e.text;
          else if (e.type === 'denoise') {
            if (e.preview) paint(e.preview, item(e.step).canvas);
            setStatus(`how-to step ${e.step + 1}: keyframe, denoising step ${e.denoise + 1} of ${e.denoisingSteps}`, e.ratio);
          } else if (e.type === 'keyframe' && e.image) paint(e.image, item(e.step).canvas);
        });
      // A step the model began but ended the sequence instead of writing has no text and no keyframe.
      while (list.children.length > result.steps.length) list.lastElementChild!.remove();
      setStatus(`wrote and drew ${result.steps.length} step${result.steps.length === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(1)} s (${result.mode} mode)`, 1);
    } catch (e) {
      if (running.signal.aborted) setStatus('stopped', 0);
      else fail('how-to failed', e);
    } finally {
      busy(false);
    }
  });

  button('stop').addEventListener('click', () => running?.abort());
  (window as unknown as { showoDemo: unknown }).showoDemo = { showo, tf };
}

main().catch((e) => {
  fail('could not start', e);
  document.body.dataset.state = 'failed';
});
