/** @packageDocumentation
 * Shapes World: the synthetic world of the embedded model (see `shared/shapes-world/SPEC.md`). Pure TypeScript,
 * no tensors: the scene model and its exact renderer, a seeded generator of scenes and of the world's language
 * (training samples of every task, never containing the held-out compositions unless asked), the programmatic
 * detector, and the evaluator of the JSON Lines evaluation files.
 *
 * Images are plain `Uint8Array`s of RGB bytes, row-major, 64×64×3; files are handled elsewhere.
 */

// Scene model
export type {
  BBox,
  Color,
  Composition,
  ExpectObject,
  HorizontalThird,
  HowtoObject,
  HowtoScene,
  ObjectView,
  RelationKind,
  Rgb,
  Scene,
  SceneObject,
  Shape,
  Size,
  T2iExpect,
  Thirds,
  VerticalThird,
  Where,
} from './types.js';
export {
  BACKGROUND,
  CANVAS_SIZE,
  COLORS,
  COLOR_MAX_DISTANCE,
  COUNT_WORDS,
  EDGE_MARGIN,
  HELD_OUT,
  MIN_GAP,
  MIN_OBJECT_PIXELS,
  MIN_SHAPE_IOU,
  PALETTE,
  RELATIONS,
  RELATION_PHRASES,
  SHAPES,
  SIZES,
  SIZE_PIXELS,
  WHERES,
  WHERE_PHRASES,
  YES_NO_ANSWERS,
} from './constants.js';
export { GenerationError, JsonlLineError } from './errors.js';

// Geometry and rendering
export {
  askableWhere,
  boxesSeparated,
  horizontalThird,
  insideShape,
  objectBBox,
  parseWherePhrase,
  relationHolds,
  rowHalfWidth,
  satisfiesWhere,
  verticalThird,
  whereOf,
  wherePhrase,
} from './geometry.js';
export { renderScene } from './render.js';

// Randomness
export { Rng, toRng, type RandomSource } from './rng.js';

// Language
export {
  MAX_HOWTO_STEPS,
  QUESTION_KINDS,
  TEMPLATES,
  andCaption,
  answerQuestion,
  countWord,
  countingCaption,
  describeScene,
  howtoQuestion,
  lmQaLine,
  lmSequenceLine,
  objectPhrase,
  parseCaption,
  parseDescription,
  parseHowtoQuestion,
  parseQuestion,
  parseStepText,
  pluralShape,
  questionText,
  relationCaption,
  singleCaption,
  splitWords,
  stepText,
  vocabularyWords,
  type HowtoAction,
  type Question,
  type QuestionKind,
} from './language.js';

// Generator
export {
  DEFAULT_CAPTION_WEIGHTS,
  DEFAULT_HOWTO_WEIGHTS,
  DEFAULT_LM_WEIGHTS,
  DEFAULT_QUESTION_WEIGHTS,
  compositions,
  isHeldOut,
  randomScene,
  sample,
  sampleBatch,
  sampleClass,
  sampleContainsHeldOut,
  sampleHowto,
  sampleLm,
  sampleMmu,
  sampleStream,
  sampleT2i,
  sceneForExpect,
  questionsAbout,
  type SceneQuestion,
  scenesOf,
  textMentionsHeldOut,
  textsOf,
  type CaptionKind,
  type ClassSample,
  type GeneratorOptions,
  type HowtoPlan,
  type HowtoSample,
  type HowtoStep,
  type LmKind,
  type LmSample,
  type MmuSample,
  type RandomSceneOptions,
  type Sample,
  type SampleByKind,
  type SampleKind,
  type T2iSample,
} from './generate.js';

// Detector
export { classifyPixel, detectObjects, type DetectedObject } from './detect.js';

// Evaluation files and scoring
export {
  T2I_TAGS,
  howtoItemFromSample,
  mmuItemFromSample,
  t2iItemFromSample,
  toJsonl,
  parseHowtoJsonl,
  parseJsonl,
  parseMmuJsonl,
  parseT2iJsonl,
  type HowtoItem,
  type HowtoItemStep,
  type JsonlOptions,
  type MmuItem,
  type T2iItem,
  type T2iTag,
} from './jsonl.js';
export {
  FAILURE_KINDS,
  classifyMmuFailure,
  classifyT2iFailure,
  evaluateHowto,
  evaluateMmu,
  evaluateT2i,
  formatAccuracyTable,
  formatFailureTable,
  matchesExpect,
  normalizeAnswer,
  questionKindOf,
  scoreHowtoStep,
  scoreMmu,
  scoreT2I,
  type Accuracy,
  type FailureCounts,
  type FailureKind,
  type HowtoItemResult,
  type HowtoReport,
  type ImageScore,
  type MmuItemResult,
  type MmuReport,
  type OutputLookup,
  type T2iItemResult,
  type T2iReport,
} from './evaluate.js';
