import { resizeImage } from '../src/index.js';
const img = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100]) };
console.log(Array.from(resizeImage(img, 4, 1, 'bicubic').data).filter((_, i) => i % 3 === 0));
