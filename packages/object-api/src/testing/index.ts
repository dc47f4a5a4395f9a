// @cairn/object-api/testing — helpers for tests of the object API: an
// in-memory model of the VolumeFs port (no filesystem needed), usable as the
// reference in model-based tests.
export { createModelFs, type ModelFs, type ModelFsOptions } from './model-fs.js';
