package erw.engine.cpu;

import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import erw.engine.ops.Conv2d;
import erw.engine.ops.GroupNorm;
import erw.engine.ops.Upsample;
import jdk.incubator.vector.FloatVector;

/**
 * CPU kernels of the image ops (conv2d, groupnorm, upsample), forward and backward side by side.
 *
 * <h2>conv2d: GEMMs over the unrolled receptive fields (im2col)</h2>
 * The forward is one {@link Sgemm} per image, {@code out (K x Ho*Wo) = W (K x C*kh*kw) . col}, whose
 * B operand {@code col} (one row per (c, ky, kx), one column per output pixel) is never stored: an
 * {@link Im2colPacker} writes its blocks straight into the GEMM's packed panels. The backward unrolls
 * bands of about {@link #BAND_COLUMNS} output pixels into a buffer (a 3x3 conv over a 256 x 256 x 128
 * input would unroll to 302 MB, a band of 2,048 pixels to 9.4 MB, about the GEMM's packed block):
 * {@code dW += dOut_band . col^T}, {@code dcol = W^T . dOut_band}, and col2im scatters dcol back, one
 * input channel per task.
 *
 * <h2>Determinism</h2>
 * Bands, their order and every accumulation order depend on the shapes only; the GEMMs are
 * thread-count independent ({@link Sgemm}); the parallel loops split disjoint outputs (im2col rows,
 * input channels in col2im, groups in groupnorm's backward, planes in upsample), so results are
 * bit-identical for any number of threads.
 */
final class ConvKernels {
    private ConvKernels() {}

    /** Output pixels per band (see the class comment). */
    static final int BAND_COLUMNS = 2048;
    private static final int L = Vec.S.length();

    /** Per-thread scratch: the unrolled band and a band of output (gradient), grown on demand. */
    private static final class Scratch {
        float[] col = new float[0], band = new float[0];

        float[] col(int n) {
            if (col.length < n) col = new float[n];
            return col;
        }

        float[] band(int n) {
            if (band.length < n) band = new float[n];
            return band;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static int bandRows(Conv2d op) {
        return Math.max(1, Math.min(op.outHeight(), BAND_COLUMNS / op.outWidth()));
    }

    // ---- conv2d --------------------------------------------------------------------------------

    static void conv2dForward(Conv2d op, WorkerPool pool) {
        int n = op.batch(), k = op.outChannels(), plane = op.outHeight() * op.outWidth();
        float[] w = op.weight().data(), out = op.out().data(), bias = op.bias() == null ? null : op.bias().data();
        for (int img = 0; img < n; img++) {
            // out (K x Ho*Wo) = W (K x C*kh*kw) . im2col(x), the unrolled columns packed straight into the GEMM's panels
            int base = img * k * plane;
            Sgemm.gemm(pool, k, plane, op.patchSize(), w, 0, new Im2colPacker(op, img), out, base, false);
            if (bias != null) addChannelBias(out, base, k, plane, plane, bias, pool);
        }
    }

    /**
     * The im2col matrix of one image (rows (c, ky, kx), columns output pixels) as a {@link Sgemm.BPacker}:
     * its blocks go straight into the GEMM's packed panels, so the unrolled matrix is never stored and
     * the input is read once per block instead of copied and then packed (measured on a 2-core AMD
     * EPYC, AVX2: a 128-channel 3x3 conv at 256 x 256 from 53.5 to 62.7 GFLOP/s, 256 channels at 128 x 128 67.6; the SGEMM itself runs at 65-70 there).
     */
    private static final class Im2colPacker implements Sgemm.BPacker {
        private final float[] x;
        private final int xBase, h, wi, kh, kw, wo, stride, pt, pl, nr;

        Im2colPacker(Conv2d op, int img) {
            x = op.x().data();
            h = op.inHeight();
            wi = op.inWidth();
            kh = op.kernelHeight();
            kw = op.kernelWidth();
            wo = op.outWidth();
            stride = op.stride();
            pt = op.padTop();
            pl = op.padLeft();
            xBase = img * op.inChannels() * h * wi;
            nr = Sgemm.panelWidth();
        }

        @Override
        public void pack(int pc, int kc, int jc, int nc, float[] dst, int dstOff) {
            int[] iy0 = new int[nr], ix0 = new int[nr];
            for (int jr = 0; jr < nc; jr += nr) {
                int cols = Math.min(nr, nc - jr), base = dstOff + jr * kc;
                // the panel's output pixels: their input row and column at tap (0, 0)
                for (int j = 0; j < cols; j++) {
                    int o = jc + jr + j;
                    iy0[j] = (o / wo) * stride - pt;
                    ix0[j] = (o % wo) * stride - pl;
                }
                // one output row, stride 1: each tap reads a contiguous run of the input row
                boolean run = stride == 1 && cols == nr && iy0[0] == iy0[nr - 1];
                int ci = pc / (kh * kw), ky = (pc / kw) % kh, kx = pc % kw;
                for (int p = 0; p < kc; p++) {
                    int d = base + p * nr, plane = xBase + ci * h * wi;
                    if (run) {
                        int iy = iy0[0] + ky, ix = ix0[0] + kx;
                        if (iy < 0 || iy >= h) {
                            java.util.Arrays.fill(dst, d, d + nr, 0f);
                        } else if (ix >= 0 && ix + nr <= wi) {
                            int src = plane + iy * wi + ix;
                            for (int v = 0; v < nr; v += L) FloatVector.fromArray(Vec.S, x, src + v).intoArray(dst, d + v);
                        } else {
                            int row = plane + iy * wi;
                            for (int j = 0; j < nr; j++) {
                                int c = ix + j;
                                dst[d + j] = c >= 0 && c < wi ? x[row + c] : 0f;
                            }
                        }
                    } else {
                        for (int j = 0; j < cols; j++) {
                            int iy = iy0[j] + ky, ix = ix0[j] + kx;
                            dst[d + j] = iy >= 0 && iy < h && ix >= 0 && ix < wi ? x[plane + iy * wi + ix] : 0f;
                        }
                        if (cols < nr) java.util.Arrays.fill(dst, d + cols, d + nr, 0f);
                    }
                    if (++kx == kw) {
                        kx = 0;
                        if (++ky == kh) {
                            ky = 0;
                            ci++;
                        }
                    }
                }
            }
        }
    }

    static void conv2dBackward(Conv2d op, WorkerPool pool) {
        Tensor x = op.x(), weight = op.weight(), bias = op.bias();
        int n = op.batch(), k = op.outChannels(), ho = op.outHeight(), wo = op.outWidth(), kk = op.patchSize();
        int plane = ho * wo, rowsPerBand = bandRows(op);
        float[] dout = op.out().grad(), w = weight.data();
        if (bias != null && bias.requiresGrad()) {
            float[] db = bias.grad();
            pool.parallelFor(k, 8, (lo, hi) -> {
                for (int c = lo; c < hi; c++) {
                    double acc = 0;
                    for (int img = 0; img < n; img++) acc += Vec.sum(dout, (img * k + c) * plane, plane);
                    db[c] += (float) acc;
                }
            });
        }
        boolean dw = weight.requiresGrad(), dx = x.requiresGrad();
        if (!dw && !dx) return;
        Scratch s = SCRATCH.get();
        for (int img = 0; img < n; img++) {
            for (int oy0 = 0; oy0 < ho; oy0 += rowsPerBand) {
                int oy1 = Math.min(ho, oy0 + rowsPerBand), cols = (oy1 - oy0) * wo;
                int base = img * k * plane + oy0 * wo;
                float[] g;
                int go;
                if (cols == plane) {
                    g = dout;
                    go = base;
                } else { // the band of the output gradient, contiguous (K x cols)
                    float[] band = s.band(k * cols);
                    pool.parallelFor(k, 8, (lo, hi) -> {
                        for (int c = lo; c < hi; c++) System.arraycopy(dout, base + c * plane, band, c * cols, cols);
                    });
                    g = band;
                    go = 0;
                }
                float[] col = s.col(kk * cols);
                if (dw) { // dW (K x kk) += dOut_band (K x cols) . col^T
                    im2col(op, img, oy0, oy1, col, pool);
                    Sgemm.gemm(pool, false, true, k, kk, cols, g, go, col, 0, weight.grad(), 0, true);
                }
                if (dx) { // dcol (kk x cols) = W^T . dOut_band, then scattered into dX
                    Sgemm.gemm(pool, true, false, kk, cols, k, w, 0, g, go, col, 0, false);
                    col2im(op, img, oy0, oy1, col, pool);
                }
            }
        }
    }

    /** Unrolls output rows [oy0, oy1) of image img: col[(c, ky, kx)][(oy - oy0) * Wo + ox]. */
    private static void im2col(Conv2d op, int img, int oy0, int oy1, float[] col, WorkerPool pool) {
        int c = op.inChannels(), h = op.inHeight(), wi = op.inWidth(), kh = op.kernelHeight(), kw = op.kernelWidth();
        int wo = op.outWidth(), stride = op.stride(), pt = op.padTop(), pl = op.padLeft();
        int cols = (oy1 - oy0) * wo;
        float[] x = op.x().data();
        int xBase = img * c * h * wi;
        pool.parallelFor(c * kh * kw, 4, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int ci = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
                int dst = r * cols;
                // output columns whose input column ix = ox*stride + kx - pl lies inside [0, W)
                int oxLo = firstInside(kx - pl, stride), oxHi = Math.min(wo, lastInside(kx - pl, stride, wi) + 1);
                for (int oy = oy0; oy < oy1; oy++, dst += wo) {
                    int iy = oy * stride + ky - pt;
                    if (iy < 0 || iy >= h || oxLo >= oxHi) {
                        java.util.Arrays.fill(col, dst, dst + wo, 0f);
                        continue;
                    }
                    int src = xBase + (ci * h + iy) * wi + kx - pl;
                    if (oxLo > 0) java.util.Arrays.fill(col, dst, dst + oxLo, 0f);
                    if (stride == 1) {
                        System.arraycopy(x, src + oxLo, col, dst + oxLo, oxHi - oxLo);
                    } else {
                        for (int ox = oxLo; ox < oxHi; ox++) col[dst + ox] = x[src + ox * stride];
                    }
                    if (oxHi < wo) java.util.Arrays.fill(col, dst + oxHi, dst + wo, 0f);
                }
            }
        });
    }

    /** Adds dcol of output rows [oy0, oy1) back into image img's input gradient; one input channel per task. */
    private static void col2im(Conv2d op, int img, int oy0, int oy1, float[] dcol, WorkerPool pool) {
        int c = op.inChannels(), h = op.inHeight(), wi = op.inWidth(), kh = op.kernelHeight(), kw = op.kernelWidth();
        int wo = op.outWidth(), stride = op.stride(), pt = op.padTop(), pl = op.padLeft();
        int cols = (oy1 - oy0) * wo;
        float[] dx = op.x().grad();
        int xBase = img * c * h * wi;
        pool.parallelFor(c, 1, (lo, hi) -> {
            for (int ci = lo; ci < hi; ci++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        int r = (ci * kh + ky) * kw + kx, src = r * cols;
                        int oxLo = firstInside(kx - pl, stride), oxHi = Math.min(wo, lastInside(kx - pl, stride, wi) + 1);
                        for (int oy = oy0; oy < oy1; oy++, src += wo) {
                            int iy = oy * stride + ky - pt;
                            if (iy < 0 || iy >= h || oxLo >= oxHi) continue;
                            int dst = xBase + (ci * h + iy) * wi + kx - pl;
                            if (stride == 1) {
                                add(dcol, src + oxLo, dx, dst + oxLo, oxHi - oxLo);
                            } else {
                                for (int ox = oxLo; ox < oxHi; ox++) dx[dst + ox * stride] += dcol[src + ox];
                            }
                        }
                    }
                }
            }
        });
    }

    /** The first ox >= 0 with ox * stride + off >= 0. */
    private static int firstInside(int off, int stride) {
        return off >= 0 ? 0 : (-off + stride - 1) / stride;
    }

    /** The last ox with ox * stride + off < width (may be negative: none). */
    private static int lastInside(int off, int stride, int width) {
        int span = width - 1 - off;
        return span < 0 ? -1 : span / stride;
    }

    /** y[yo..yo+n) += x[xo..xo+n). */
    private static void add(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (int ub = Vec.S.loopBound(n); i < ub; i += L) {
            FloatVector.fromArray(Vec.S, y, yo + i).add(FloatVector.fromArray(Vec.S, x, xo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += x[xo + i];
    }

    /** out[oo..oo+n) = x[xo..xo+n) + v. */
    private static void addScalar(float[] x, int xo, float v, float[] out, int oo, int n) {
        int i = 0;
        for (int ub = Vec.S.loopBound(n); i < ub; i += L) FloatVector.fromArray(Vec.S, x, xo + i).add(v).intoArray(out, oo + i);
        for (; i < n; i++) out[oo + i] = x[xo + i] + v;
    }

    /** The K rows of a (K x cols) block at base, rows plane apart, each += bias[row]. */
    private static void addChannelBias(float[] out, int base, int k, int cols, int plane, float[] bias, WorkerPool pool) {
        pool.parallelFor(k, 8, (lo, hi) -> {
            for (int c = lo; c < hi; c++) addScalar(out, base + c * plane, bias[c], out, base + c * plane, cols);
        });
    }

    // ---- groupnorm: statistics in double over float-vector chunks of a fixed size -------------

    /** Elements summed in float lanes before the partial sum is added in double. */
    private static final int CHUNK = 1024;

    /** sum of x[o..o+n) (fixed order: float-vector chunks of CHUNK, chunk sums in double). */
    private static double sum(float[] x, int o, int n) {
        double s = 0;
        for (int c = 0; c < n; c += CHUNK) s += Vec.sum(x, o + c, Math.min(CHUNK, n - c));
        return s;
    }

    /** sum of (x[o+i] - m)^2. */
    private static double centredSquares(float[] x, int o, int n, float m) {
        double s = 0;
        FloatVector mv = FloatVector.broadcast(Vec.S, m);
        for (int c = 0; c < n; c += CHUNK) {
            int e = Math.min(n, c + CHUNK), i = c;
            FloatVector acc = FloatVector.zero(Vec.S);
            for (; i + L <= e; i += L) {
                FloatVector t = FloatVector.fromArray(Vec.S, x, o + i).sub(mv);
                acc = t.fma(t, acc);
            }
            float part = FastMath.sumLanes(acc);
            for (; i < e; i++) part += (x[o + i] - m) * (x[o + i] - m);
            s += part;
        }
        return s;
    }

    static void groupNormForward(GroupNorm op, WorkerPool pool) {
        int groups = op.groups(), cpg = op.channelsPerGroup(), sp = op.spatial(), len = cpg * sp;
        float eps = op.eps();
        float[] x = op.x().data(), out = op.out().data(), mean = op.mean().data(), rstd = op.rstd().data();
        float[] w = op.weight() == null ? null : op.weight().data(), b = op.bias() == null ? null : op.bias().data();
        pool.parallelFor(op.batch() * groups, 1, (lo, hi) -> {
            for (int ng = lo; ng < hi; ng++) {
                int o = ng * len;
                float m = (float) (sum(x, o, len) / len);
                float rs = (float) (1.0 / Math.sqrt(centredSquares(x, o, len, m) / len + eps));
                mean[ng] = m;
                rstd[ng] = rs;
                int c0 = (ng % groups) * cpg;
                for (int j = 0; j < cpg; j++) {
                    // (x - m) * rs * w + b = x * a + (b - m * a) with a = rs * w
                    float a = w == null ? rs : rs * w[c0 + j], sh = (w == null ? 0f : b[c0 + j]) - m * a;
                    int p = o + j * sp, i = 0;
                    FloatVector av = FloatVector.broadcast(Vec.S, a), sv = FloatVector.broadcast(Vec.S, sh);
                    for (int ub = Vec.S.loopBound(sp); i < ub; i += L) FloatVector.fromArray(Vec.S, x, p + i).fma(av, sv).intoArray(out, p + i);
                    for (; i < sp; i++) out[p + i] = Math.fma(x[p + i], a, sh);
                }
            }
        });
    }

    /**
     * With xhat = (x - mean) * rstd and g = dy * w: {@code dx += rstd * (g - mean(g) - xhat * mean(g * xhat))}
     * per (sample, group); {@code dw[c] += sum dy * xhat}, {@code db[c] += sum dy} over samples and
     * positions. One task per group, samples in order, so the parameter sums need no reduction.
     */
    static void groupNormBackward(GroupNorm op, WorkerPool pool) {
        int n = op.batch(), groups = op.groups(), cpg = op.channelsPerGroup(), sp = op.spatial(), len = cpg * sp;
        float[] x = op.x().data(), dy = op.out().grad(), mean = op.mean().data(), rstd = op.rstd().data();
        Tensor weight = op.weight(), bias = op.bias();
        float[] w = weight == null ? null : weight.data();
        float[] dx = op.x().requiresGrad() ? op.x().grad() : null;
        float[] dw = weight != null && weight.requiresGrad() ? weight.grad() : null;
        float[] db = bias != null && bias.requiresGrad() ? bias.grad() : null;
        pool.parallelFor(groups, 1, (lo, hi) -> {
            for (int g = lo; g < hi; g++) {
                int c0 = g * cpg;
                double[] dwAcc = new double[cpg], dbAcc = new double[cpg];
                for (int img = 0; img < n; img++) {
                    int ng = img * groups + g, o = ng * len;
                    float m = mean[ng], rs = rstd[ng];
                    double sg = 0, sgx = 0;
                    for (int j = 0; j < cpg; j++) {
                        int p = o + j * sp;
                        float wj = w == null ? 1f : w[c0 + j];
                        double sdy = sum(dy, p, sp), sdyx = dotCentred(dy, x, p, sp, m) * rs;
                        dbAcc[j] += sdy;
                        dwAcc[j] += sdyx;
                        sg += wj * sdy;
                        sgx += wj * sdyx;
                    }
                    if (dx == null) continue;
                    float mg = (float) (sg / len), mgx = (float) (sgx / len);
                    for (int j = 0; j < cpg; j++) {
                        int p = o + j * sp;
                        float wj = w == null ? 1f : w[c0 + j];
                        // dx += rs * (wj * dy - mg - (x - m) * rs * mgx) = dy * (rs wj) + x * (-rs^2 mgx) + rs (m rs mgx - mg)
                        float a = rs * wj, bx = -rs * rs * mgx, c = rs * (m * rs * mgx - mg);
                        int i = 0;
                        FloatVector av = FloatVector.broadcast(Vec.S, a), bv = FloatVector.broadcast(Vec.S, bx), cv = FloatVector.broadcast(Vec.S, c);
                        for (int ub = Vec.S.loopBound(sp); i < ub; i += L) {
                            FloatVector t = FloatVector.fromArray(Vec.S, dy, p + i).fma(av, FloatVector.fromArray(Vec.S, x, p + i).fma(bv, cv));
                            t.add(FloatVector.fromArray(Vec.S, dx, p + i)).intoArray(dx, p + i);
                        }
                        for (; i < sp; i++) dx[p + i] += dy[p + i] * a + (x[p + i] * bx + c);
                    }
                }
                for (int j = 0; j < cpg; j++) {
                    if (dw != null) dw[c0 + j] += (float) dwAcc[j];
                    if (db != null) db[c0 + j] += (float) dbAcc[j];
                }
            }
        });
    }

    /** sum of dy[o+i] * (x[o+i] - m), chunked as {@link #sum}. */
    private static double dotCentred(float[] dy, float[] x, int o, int n, float m) {
        double s = 0;
        FloatVector mv = FloatVector.broadcast(Vec.S, m);
        for (int c = 0; c < n; c += CHUNK) {
            int e = Math.min(n, c + CHUNK), i = c;
            FloatVector acc = FloatVector.zero(Vec.S);
            for (; i + L <= e; i += L) acc = FloatVector.fromArray(Vec.S, x, o + i).sub(mv).fma(FloatVector.fromArray(Vec.S, dy, o + i), acc);
            float part = FastMath.sumLanes(acc);
            for (; i < e; i++) part += (x[o + i] - m) * dy[o + i];
            s += part;
        }
        return s;
    }

    // ---- upsample (nearest) --------------------------------------------------------------------

    static void upsampleForward(Upsample op, WorkerPool pool) {
        int f = op.factor(), h = op.inHeight(), w = op.inWidth(), ow = w * f;
        float[] x = op.x().data(), out = op.out().data();
        pool.parallelFor(op.planes(), 4, (lo, hi) -> {
            for (int pl = lo; pl < hi; pl++) {
                int src = pl * h * w, dst = pl * h * w * f * f;
                for (int y = 0; y < h; y++, src += w) {
                    int row = dst + y * f * ow;
                    for (int xi = 0; xi < w; xi++) {
                        float v = x[src + xi];
                        for (int j = 0; j < f; j++) out[row + xi * f + j] = v;
                    }
                    for (int i = 1; i < f; i++) System.arraycopy(out, row, out, row + i * ow, ow);
                }
            }
        });
    }

    static void upsampleBackward(Upsample op, WorkerPool pool) {
        if (!op.x().requiresGrad()) return;
        int f = op.factor(), h = op.inHeight(), w = op.inWidth(), ow = w * f;
        float[] dx = op.x().grad(), dout = op.out().grad();
        pool.parallelFor(op.planes(), 4, (lo, hi) -> {
            for (int pl = lo; pl < hi; pl++) {
                int dst = pl * h * w, src = pl * h * w * f * f;
                for (int y = 0; y < h; y++) {
                    for (int xi = 0; xi < w; xi++) {
                        float s = 0f;
                        for (int i = 0; i < f; i++) {
                            int r = src + (y * f + i) * ow + xi * f;
                            for (int j = 0; j < f; j++) s += dout[r + j];
                        }
                        dx[dst + y * w + xi] += s;
                    }
                }
            }
        });
    }
}
