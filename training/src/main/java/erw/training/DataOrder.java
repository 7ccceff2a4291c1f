package erw.training;

import erw.engine.host.Philox;

/**
 * The order in which samples are seen: position p = step * batch + i of the run reads sample
 * perm_e[p mod count] with e = p / count and perm_e a Fisher-Yates shuffle keyed by (seed, e).
 * A pure function of (seed, step), so resuming at a step reproduces the data exactly.
 */
public final class DataOrder {
    private static final long STREAM = 0x5EED_0DDEL;
    private final long seed;
    private final int count;
    private long cachedEpoch = -1;
    private int[] perm;

    public DataOrder(long seed, int count) {
        if (count < 1) throw new IllegalArgumentException("dataset is empty");
        this.seed = seed;
        this.count = count;
    }

    public int[] permutation(long epoch) {
        if (epoch != cachedEpoch) {
            int[] p = new int[count];
            for (int i = 0; i < count; i++) p[i] = i;
            int[] w = new int[4];
            for (int i = count - 1; i > 0; i--) {
                Philox.block(seed, STREAM + epoch, i, w);
                long r = ((w[0] & 0xFFFFFFFFL) << 32 | (w[1] & 0xFFFFFFFFL)) >>> 1;
                int j = (int) (r % (i + 1));
                int tmp = p[i];
                p[i] = p[j];
                p[j] = tmp;
            }
            perm = p;
            cachedEpoch = epoch;
        }
        return perm;
    }

    public void batchIndices(long step, int[] out) {
        for (int i = 0; i < out.length; i++) {
            long pos = step * out.length + i;
            out[i] = permutation(pos / count)[(int) (pos % count)];
        }
    }
}
