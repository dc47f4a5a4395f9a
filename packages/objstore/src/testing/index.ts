// @cairn/objstore/testing — helpers for testing object-store backends.
export { describeConformance, type ConformanceOptions, type ConformanceTarget } from './conformance.js';
