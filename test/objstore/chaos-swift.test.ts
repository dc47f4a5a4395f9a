// The chaos wrapper over the real Swift backend. Faults injected by the wrapper
// happen above the Swift backend (its own retries only absorb Swift's real
// failures), so the suite runs through the caller-side retry layer: every
// injected fault must be recoverable and the conformance results exact.

import { describe, expect, it } from 'vitest';
import { createChaosStore, type ChaosStore } from '../../packages/objstore/src/backends/chaos.js';
import { createRetryingStore } from '../../packages/objstore/src/backends/chaos-retry.js';
import { createSwiftStore } from '../../packages/objstore/src/backends/swift.js';
import { describeConformance, type ConformanceOptions } from '../../packages/objstore/src/testing/index.js';
import { servicesUnavailableReason, swiftSettings } from '../helpers/services.js';

const swift = swiftSettings();
const MiB = 1024 * 1024;

function openSwift() {
  return createSwiftStore({ authUrl: swift!.authUrl, user: swift!.user, key: swift!.key });
}

describe.skipIf(!swift)(`chaos(swift)${swift ? '' : ` (skipped: ${servicesUnavailableReason('swift')})`}`, () => {
  let chaos: ChaosStore | undefined;
  // Swift 2.30 checks If-None-Match: * when a PUT starts, without a lock: several
  // concurrent creators can all get 201 (seen with plain curl). The race case can
  // only ask that losers see PRECONDITION_FAILED and one winner's bytes are stored.
  const conformance: ConformanceOptions = { relaxed: true, largeBytes: 8 * MiB, atomicCreate: false };

  describeConformance('retry(chaos(swift))', async () => {
    const inner = openSwift();
    chaos = createChaosStore(inner, {
      seed: Number(process.env['CAIRN_CHAOS_SEED'] ?? 20240601),
      rates: { before: 0.03, after: 0.03, stall: 0.01, reset: 0.03 },
      ops: { segment: { before: 0.01, after: 0.01, reset: 0.01 } },
      stallMs: 200,
      latencyMs: { min: 0, max: 5 },
    });
    const store = createRetryingStore(chaos, { baseDelayMs: 5, maxDelayMs: 100, maxAttempts: 20, replayBytes: 16 * MiB });
    return { store, container: 'cairn-chaos-conformance', cleanup: () => store.close() };
  }, conformance);

  it('injected faults during the suite', () => {
    // The suite above ran hundreds of operations: faults must have been met and survived.
    expect(chaos).toBeDefined();
    const c = chaos!.counters();
    expect(chaos!.injected()).toBeGreaterThan(5);
    expect(c.put.after + c.delete.after + c.get.after).toBeGreaterThan(0);
    expect(c.get.reset).toBeGreaterThan(0);
  });
});
