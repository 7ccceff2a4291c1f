package erw.training.eval;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.host.Philox;
import erw.model.SiT;

/**
 * How well a block of the diffusion model agrees with the target encoder: CKNNA (k neighbours)
 * between the block's tokens and the encoder's tokens, each mean-pooled over tokens per image, for
 * images noised to time t (x_t = (1 - t) x + t e) and conditioned on their labels.
 */
public final class BlockAlignment {
    private BlockAlignment() {}

    public static final long STREAM_NOISE = 11;

    /**
     * @param targets (n, T', D') encoder tokens of the same images
     * @return CKNNA in [-1, 1] (1: the same neighbourhood structure)
     */
    public static double cknna(SiT model, Backend backend, int block, float[] images, float[] labels, int n, float[] targets, int targetTokens,
                               int targetWidth, double t, int k, long seed) {
        int d = model.config().hiddenSize(), tokens = model.config().tokens(), batch = Math.min(n, 100);
        int c = model.config().inChannels(), side = model.config().inputSize(), per = c * side * side;
        float[] pooled = new float[n * d];
        Graph g = Graph.inference("cknna.block" + block);
        Tensor x = Tensor.input("x", batch, c, side, side), tt = Tensor.input("t", batch), y = Tensor.input("y", batch);
        Tensor h = g.tokenMean("pool", model.blockTokens(g, x, tt, y, block), batch);
        float[] noise = new float[batch * per];
        try (Plan p = backend.compile(g.readBack(h))) {
            for (int s = 0; s < n; s += batch) {
                int m = Math.min(batch, n - s);
                java.util.Arrays.fill(x.data(), 0f);
                Philox.normal(seed, STREAM_NOISE, (long) s * per, noise, 0, m * per);
                for (int j = 0; j < m * per; j++) x.data()[j] = (float) ((1 - t) * images[s * per + j] + t * noise[j]);
                java.util.Arrays.fill(tt.data(), (float) t);
                System.arraycopy(labels, s, y.data(), 0, m);
                p.run();
                System.arraycopy(h.data(), 0, pooled, s * d, m * d);
            }
        }
        float[] tp = new float[n * targetWidth];
        for (int i = 0; i < n; i++) {
            for (int q = 0; q < targetTokens; q++) {
                for (int j = 0; j < targetWidth; j++) tp[i * targetWidth + j] += targets[(i * targetTokens + q) * targetWidth + j] / targetTokens;
            }
        }
        return Cknna.of(pooled, d, tp, targetWidth, n, k);
    }
}
