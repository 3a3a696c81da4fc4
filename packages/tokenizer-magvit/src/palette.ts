import * as tf from '@tensorflow/tfjs';

/** Palette colours as a [K, 3] table in the model's pixel range [−1, 1] (internal; one definition for every use). */
export function paletteTable(palette: readonly (readonly [number, number, number])[]): tf.Tensor2D {
  return tf.tensor2d(palette.flatMap((c) => [c[0] / 127.5 - 1, c[1] / 127.5 - 1, c[2] / 127.5 - 1]), [palette.length, 3]);
}
