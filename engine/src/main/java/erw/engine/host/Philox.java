package erw.engine.host;

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based
 * generator. Every draw is a pure function of (key = seed, counter = (index, stream)), so the same
 * numbers come out on any backend, in any order, with any number of threads.
 *
 * <p>Layout used by erw: key = the 64-bit seed; counter words c0,c1 = the 64-bit block index
 * ({@code counter * 2^20 + i/4}-style offsets are the caller's business), c2,c3 = the 64-bit stream.
 * One block gives four 32-bit words: four uniforms, or four normals via two Box-Muller pairs.
 */
public final class Philox {
    private Philox() {}

    private static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /** Computes one block into out[0..3]. */
    public static void block(long seed, long stream, long index, int[] out) {
        int k0 = (int) seed, k1 = (int) (seed >>> 32);
        int c0 = (int) index, c1 = (int) (index >>> 32), c2 = (int) stream, c3 = (int) (stream >>> 32);
        for (int r = 0; r < 10; r++) {
            long p0 = (M0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long p1 = (M1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            int n0 = hi1 ^ c1 ^ k0;
            int n1 = lo1;
            int n2 = hi0 ^ c3 ^ k1;
            int n3 = lo0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
    }

    /** A uniform in (0, 1) from 32 random bits: 24 bits, offset by half a step so 0 never occurs. */
    public static float uniform(int bits) {
        return ((bits >>> 8) + 0.5f) * 0x1.0p-24f;
    }

    /**
     * Fills out[off..off+n) with uniforms in (0,1): element i comes from block (base + i/4), word i%4.
     */
    public static void uniform(long seed, long stream, long base, float[] out, int off, int n) {
        int[] w = new int[4];
        for (int i = 0; i < n; i += 4) {
            block(seed, stream, base + (i >>> 2), w);
            for (int j = 0; j < 4 && i + j < n; j++) out[off + i + j] = uniform(w[j]);
        }
    }

    /**
     * Fills out[off..off+n) with standard normals: element i comes from block (base + i/4) by
     * Box-Muller on the block's words (0,1) and (2,3). Computed in double, rounded to float.
     */
    public static void normal(long seed, long stream, long base, float[] out, int off, int n) {
        int[] w = new int[4];
        for (int i = 0; i < n; i += 4) {
            block(seed, stream, base + (i >>> 2), w);
            for (int pair = 0; pair < 2; pair++) {
                double u1 = ((w[2 * pair] >>> 8) + 0.5) * 0x1.0p-24;
                double u2 = ((w[2 * pair + 1] >>> 8) + 0.5) * 0x1.0p-24;
                double r = Math.sqrt(-2.0 * Math.log(u1));
                double a = 2.0 * Math.PI * u2;
                int j = i + 2 * pair;
                if (j < n) out[off + j] = (float) (r * Math.cos(a));
                if (j + 1 < n) out[off + j + 1] = (float) (r * Math.sin(a));
            }
        }
    }

    /** Parallel {@link #normal}: blocks are keyed by index, so splitting changes nothing. */
    public static void normal(WorkerPool pool, long seed, long stream, long base, float[] out, int off, int n) {
        int quads = (n + 3) / 4;
        pool.parallelFor(quads, 256, (q0, q1) -> {
            int lo = q0 * 4, hi = Math.min(n, q1 * 4);
            normal(seed, stream, base + q0, out, off + lo, hi - lo);
        });
    }
}
