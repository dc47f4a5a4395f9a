// @cairn/daemon — cairnd's building blocks (the entry point is main.ts).
export { runSelfCheck, type SelfCheckReport, type SelfCheckStep } from './selfcheck.js';
