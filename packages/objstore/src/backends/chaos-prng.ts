// A small seeded pseudo-random generator for the chaos wrapper, so that a seed
// reproduces the same sequence of injected faults. sfc32 (Chris Doty-Humphrey's
// Small Fast Counter), state expanded from a 32-bit seed with splitmix32. Not
// for cryptography.

/** Returns a generator of floats uniform in [0, 1), fully determined by `seed`. */
export function createPrng(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = 1;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  // Warm up: the first outputs of a freshly seeded sfc32 are correlated with the seed.
  for (let i = 0; i < 12; i++) next();
  return () => next() / 0x1_0000_0000;
}
