package erw.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import erw.engine.GradCheck;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The image kernels against direct loops in double (convolution with every padding and stride the
 * SD-VAE uses, banded and not; groupnorm; upsampling), and bit-identical results for 1 and 2 threads.
 */
class ConvKernelsTest {

    private static Tensor filled(String name, long seed, int... shape) {
        Tensor t = Tensor.input(name, shape);
        GradCheck.fill(t, seed, 1f);
        return t;
    }

    /** out[n][k][oy][ox] = b[k] + sum x[n][c][oy*s+ky-pt][ox*s+kx-pl] w[k][c][ky][kx], in double. */
    private static double[] directConv(Tensor x, Tensor w, Tensor b, int s, int pt, int pl, int ho, int wo) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wi = x.dim(3), k = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        double[] out = new double[n * k * ho * wo];
        float[] xd = x.data(), wd = w.data();
        for (int i = 0; i < n; i++)
            for (int o = 0; o < k; o++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        double acc = b == null ? 0 : b.data()[o];
                        for (int ci = 0; ci < c; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) {
                                    int iy = oy * s + ky - pt, ix = ox * s + kx - pl;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wi) continue;
                                    acc += (double) xd[((i * c + ci) * h + iy) * wi + ix] * wd[((o * c + ci) * kh + ky) * kw + kx];
                                }
                        out[((i * k + o) * ho + oy) * wo + ox] = acc;
                    }
        return out;
    }

    private static float[] run(int threads, Graph g, Tensor out) {
        try (CpuBackend cpu = new CpuBackend(threads); Plan p = cpu.compile(g)) {
            p.run();
            return out.data().clone();
        }
    }

    private static void convCase(int n, int c, int h, int w, int k, int ks, int stride, int pt, int pl, int pb, int pr, boolean bias) {
        Tensor x = filled("x", 1, n, c, h, w), wt = filled("w", 2, k, c, ks, ks), b = bias ? filled("b", 3, k) : null;
        Graph g = Graph.inference("conv");
        Tensor out = g.conv2d("conv", x, wt, b, stride, pt, pl, pb, pr);
        float[] one = run(1, g, out), two = run(2, g, out);
        assertArrayEquals(one, two, "1 vs 2 threads must be bit-identical");
        double[] ref = directConv(x, wt, b, stride, pt, pl, out.dim(2), out.dim(3));
        assertEquals(ref.length, one.length);
        for (int i = 0; i < ref.length; i++) assertEquals(ref[i], one[i], 1e-4 * (1 + Math.abs(ref[i])), "element " + i);
    }

    @Test
    void convolutionMatchesDirectLoops() {
        convCase(2, 3, 9, 7, 5, 3, 1, 1, 1, 1, 1, true);      // nn.Conv2d(3, 5, 3, padding=1)
        convCase(2, 3, 9, 8, 4, 3, 2, 0, 0, 1, 1, false);     // VAE downsampler: F.pad (0,1,0,1) + stride 2
        convCase(1, 8, 5, 5, 6, 1, 1, 0, 0, 0, 0, true);      // 1x1 (shortcut, quant convs)
        convCase(2, 2, 70, 40, 3, 3, 1, 1, 1, 1, 1, true);    // 2,800 output pixels: two bands
        convCase(1, 4, 33, 100, 2, 3, 2, 0, 0, 1, 1, true);   // banded and strided
    }

    @Test
    void groupNormMatchesDirectLoopsAndIsThreadIndependent() {
        int n = 2, c = 8, groups = 4, sp = 3000;
        Tensor x = filled("x", 4, n, c, 60, 50), w = filled("w", 5, c), b = filled("b", 6, c);
        for (int i = 0; i < x.size(); i++) x.data()[i] = x.data()[i] * 3f + 5f; // offset mean, as activations have
        Graph g = Graph.inference("gn");
        Tensor out = g.groupNorm("gn", x, groups, w, b, 1e-6f);
        float[] one = run(1, g, out), two = run(2, g, out);
        assertArrayEquals(one, two);
        int len = c / groups * sp;
        for (int ng = 0; ng < n * groups; ng++) {
            double m = 0, v = 0;
            for (int i = 0; i < len; i++) m += x.data()[ng * len + i];
            m /= len;
            for (int i = 0; i < len; i++) v += Math.pow(x.data()[ng * len + i] - m, 2);
            double rs = 1 / Math.sqrt(v / len + 1e-6);
            for (int i = 0; i < len; i++) {
                int ch = (ng % groups) * (c / groups) + i / sp;
                double ref = (x.data()[ng * len + i] - m) * rs * w.data()[ch] + b.data()[ch];
                assertEquals(ref, one[ng * len + i], 2e-5 * (1 + Math.abs(ref)));
            }
        }
    }

    @Test
    void upsampleRepeatsEachPixel() {
        Tensor x = filled("x", 7, 1, 2, 2, 3);
        Graph g = Graph.inference("up");
        Tensor out = g.upsample("up", x, 2);
        float[] o = run(2, g, out);
        for (int p = 0; p < 2; p++)
            for (int y = 0; y < 4; y++)
                for (int xx = 0; xx < 6; xx++) assertEquals(x.data()[p * 6 + (y / 2) * 3 + xx / 2], o[p * 24 + y * 6 + xx]);
    }
}
