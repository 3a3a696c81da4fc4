// Wall time of one 64×64 text-to-image (default steps, CFG) and of one answer on the embedded model, in-process
// (model loading excluded), with one engine and with `workers: 2` for the image.
//   node --import tsx scripts/time-embedded.ts [--reps 3]
import { createShowo } from '@showo/showo';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1] ?? 3) || 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
for (const workers of [1, 2] as const) {
  const showo = await createShowo({ workers });
  try {
    const t2i: number[] = [];
    const ans: number[] = [];
    let image: Awaited<ReturnType<ReturnType<typeof showo.t2i>['result']>> | undefined;
    for (let i = 0; i < reps + 1; i++) {
      let t = performance.now();
      image = await showo.t2i('a red circle', { seed: i }).result();
      if (i > 0) t2i.push(performance.now() - t); // the first run warms up (and starts the worker)
      if (workers === 1) {
        t = performance.now();
        await showo.answer(image.images![0]!, 'what color is the circle?').result();
        if (i > 0) ans.push(performance.now() - t);
      }
    }
    console.log(`workers ${workers}: t2i ${(median(t2i) / 1000).toFixed(2)} s (defaults: ${JSON.stringify(showo.defaults.t2i)})${ans.length ? `; answer ${(median(ans) / 1000).toFixed(2)} s` : ''}`);
  } finally {
    await showo.dispose();
  }
}
