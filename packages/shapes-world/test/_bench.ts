import { sampleBatch, renderScene, detectObjects, scoreT2I } from '@showo/shapes-world';
const ss = sampleBatch('t2i', 2000, 1);
const imgs = ss.map(s => renderScene(s.scene));
for (let rep=0; rep<3; rep++) {
let t0 = performance.now();
for (const im of imgs) detectObjects(im);
console.log('detect ms', (performance.now()-t0)/imgs.length);
t0 = performance.now();
for (const s of sampleBatch('t2i', 2000, 2)) renderScene(s.scene);
console.log('sample+render ms', (performance.now()-t0)/2000);
}
