import { writeLossCurve } from '@showo/trainer';
const ev = Array.from({length: 300}, (_, i) => ({ step: i+1, loss: 7*Math.exp(-i/80)+0.5+0.3*Math.random(), parts: { t2i: 6*Math.exp(-i/90)+0.4, lm: 3*Math.exp(-i/40)+0.1, mmu: 2*Math.exp(-i/60)+0.2 } }));
writeLossCurve('/tmp/loss.png', ev);
