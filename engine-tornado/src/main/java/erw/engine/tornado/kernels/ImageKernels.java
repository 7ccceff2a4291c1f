package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Image kernels: conv2d (forward, input and weight gradients as implicit GEMMs, bias gradient),
 * groupnorm (statistics and the input gradient per (sample, group), the affine gradients per
 * channel) and nearest upsampling. Images are NCHW, conv weights (K, C, kh, kw).
 *
 * <h2>conv2d as implicit GEMMs</h2>
 * The three products of a convolution are the tiled GEMM of {@link GemmKernels} (16x16 tiles of
 * both operands in local memory, one work-item per element of the product) with operand tiles
 * gathered from the images instead of read from an unrolled copy (no im2col buffer):
 * <ul>
 * <li>forward: {@code out (K x N*Ho*Wo) = W (K x C*kh*kw) . col}, col gathered from x (zero outside);</li>
 * <li>input gradient: {@code dX (C x N*H*W) += W^T-gathered (C x K*kh*kw) . dOut-gathered}, a
 * transposed convolution: input pixel (iy, ix) receives from output pixel ((iy + padTop - ky) / stride, ...)
 * where that division is exact and in range (zero elsewhere), one work-item per input element;</li>
 * <li>weight gradient: {@code dW (K x C*kh*kw) += dOut (K x N*Ho*Wo) . col^T}, the inner dimension
 * (samples and output pixels) optionally split in fixed chunks into partial products that a second
 * kernel adds in chunk order (deterministic, no atomics).</li>
 * </ul>
 * Launch of the GEMM kernels: global (ceil(cols/16)*16, ceil(rows/16)*16 [* splits]), local (16, 16).
 * Flags are 0/1 ints; constants are literals (kernels see no static fields).
 */
public final class ImageKernels {
    private ImageKernels() {}

    public static final int TILE = 16;
    /** Work-group size of the per-(sample, group) and per-channel reductions. */
    public static final int GROUP = 256;

    /** out[img, row, oy, ox] = sum_(ci,ky,kx) w[row, ci, ky, kx] x[img, ci, oy*s+ky-pt, ox*s+kx-pl] [+ bias[row]]. */
    public static void convForward(KernelContext ctx, FloatArray x, FloatArray w, FloatArray bias, FloatArray out,
                                   int n, int c, int h, int wi, int k, int kh, int kw, int ho, int wo,
                                   int stride, int pt, int pl, int hasBias) {
        float[] as = ctx.allocateFloatLocalArray(256);
        float[] bs = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int col = ctx.groupIdx * 16 + lx;
        int row = ctx.groupIdy * 16 + ly;
        int plane = ho * wo;
        int cols = n * plane;
        int khw = kh * kw;
        int inner = c * khw;
        int img = col / plane;
        int p = col % plane;
        int iy0 = (p / wo) * stride - pt;
        int ix0 = (p % wo) * stride - pl;
        int xBase = img * c * h * wi;
        float acc = 0f;
        int tiles = (inner + 15) / 16;
        for (int t = 0; t < tiles; t++) {
            int ka = t * 16 + lx;
            float av = 0f;
            if (row < k && ka < inner) {
                av = w.get(row * inner + ka);
            }
            as[ly * 16 + lx] = av;
            int kb = t * 16 + ly;
            float bv = 0f;
            if (kb < inner && col < cols) {
                int ci = kb / khw;
                int r = kb % khw;
                int iy = iy0 + r / kw;
                int ix = ix0 + r % kw;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wi) {
                    bv = x.get(xBase + (ci * h + iy) * wi + ix);
                }
            }
            bs[ly * 16 + lx] = bv;
            ctx.localBarrier();
            for (int q = 0; q < 16; q++) {
                acc += as[ly * 16 + q] * bs[q * 16 + lx];
            }
            ctx.localBarrier();
        }
        if (row < k && col < cols) {
            float v = acc;
            if (hasBias == 1) {
                v += bias.get(row);
            }
            out.set((img * k + row) * plane + p, v);
        }
    }

    /**
     * gx[img, row, iy, ix] += sum_(kq,ky,kx) w[kq, row, ky, kx] g[img, kq, (iy+pt-ky)/s, (ix+pl-kx)/s]
     * over the exact, in-range quotients: rows are input channels, columns input pixels of the batch.
     */
    public static void convBackwardInput(KernelContext ctx, FloatArray g, FloatArray w, FloatArray gx,
                                         int n, int c, int h, int wi, int k, int kh, int kw, int ho, int wo,
                                         int stride, int pt, int pl) {
        float[] as = ctx.allocateFloatLocalArray(256);
        float[] bs = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int col = ctx.groupIdx * 16 + lx;
        int row = ctx.groupIdy * 16 + ly;
        int plane = h * wi;
        int cols = n * plane;
        int khw = kh * kw;
        int inner = k * khw;
        int img = col / plane;
        int p = col % plane;
        int ty0 = p / wi + pt;
        int tx0 = p % wi + pl;
        int gBase = img * k * ho * wo;
        float acc = 0f;
        int tiles = (inner + 15) / 16;
        for (int t = 0; t < tiles; t++) {
            int ka = t * 16 + lx;
            float av = 0f;
            if (row < c && ka < inner) {
                int kq = ka / khw;
                int r = ka % khw;
                av = w.get((kq * c + row) * khw + r);
            }
            as[ly * 16 + lx] = av;
            int kb = t * 16 + ly;
            float bv = 0f;
            if (kb < inner && col < cols) {
                int kq = kb / khw;
                int r = kb % khw;
                int ty = ty0 - r / kw;
                int tx = tx0 - r % kw;
                if (ty >= 0 && tx >= 0 && ty % stride == 0 && tx % stride == 0) {
                    int oy = ty / stride;
                    int ox = tx / stride;
                    if (oy < ho && ox < wo) {
                        bv = g.get(gBase + (kq * ho + oy) * wo + ox);
                    }
                }
            }
            bs[ly * 16 + lx] = bv;
            ctx.localBarrier();
            for (int q = 0; q < 16; q++) {
                acc += as[ly * 16 + q] * bs[q * 16 + lx];
            }
            ctx.localBarrier();
        }
        if (row < c && col < cols) {
            int o = (img * c + row) * plane + p;
            gx.set(o, gx.get(o) + acc);
        }
    }

    /**
     * dW (K x C*kh*kw) [+]= dOut . col^T over the inner range [split*chunk, (split+1)*chunk) of
     * (sample, output pixel), split = groupIdy / ceil(K/16). The result goes to
     * out[split*K*C*kh*kw + row*C*kh*kw + col]: out is the weight gradient itself (one split,
     * accumulate = 1) or a scratch of partial products (accumulate = 0) for {@link #sumPartials}.
     */
    public static void convBackwardWeight(KernelContext ctx, FloatArray g, FloatArray x, FloatArray out,
                                          int n, int c, int h, int wi, int k, int kh, int kw, int ho, int wo,
                                          int stride, int pt, int pl, int chunk, int accumulate) {
        float[] as = ctx.allocateFloatLocalArray(256);
        float[] bs = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int rowTiles = (k + 15) / 16;
        int split = ctx.groupIdy / rowTiles;
        int row = (ctx.groupIdy % rowTiles) * 16 + ly;
        int col = ctx.groupIdx * 16 + lx;
        int khw = kh * kw;
        int cols = c * khw;
        int plane = ho * wo;
        int total = n * plane;
        int ci = col / khw;
        int r = col % khw;
        int ky = r / kw;
        int kx = r % kw;
        int start = split * chunk;
        int end = TornadoMath.min(total, start + chunk);
        float acc = 0f;
        int tiles = (end - start + 15) / 16;
        for (int t = 0; t < tiles; t++) {
            int ja = start + t * 16 + lx;
            float av = 0f;
            if (row < k && ja < end) {
                int img = ja / plane;
                int pa = ja % plane;
                av = g.get((img * k + row) * plane + pa);
            }
            as[ly * 16 + lx] = av;
            int jb = start + t * 16 + ly;
            float bv = 0f;
            if (col < cols && jb < end) {
                int img = jb / plane;
                int pb = jb % plane;
                int iy = (pb / wo) * stride + ky - pt;
                int ix = (pb % wo) * stride + kx - pl;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wi) {
                    bv = x.get(((img * c + ci) * h + iy) * wi + ix);
                }
            }
            bs[ly * 16 + lx] = bv;
            ctx.localBarrier();
            for (int q = 0; q < 16; q++) {
                acc += as[ly * 16 + q] * bs[q * 16 + lx];
            }
            ctx.localBarrier();
        }
        if (row < k && col < cols) {
            int o = split * k * cols + row * cols + col;
            float v = acc;
            if (accumulate == 1) {
                v += out.get(o);
            }
            out.set(o, v);
        }
    }

    /** dst[i] += sum over splits (in order) of partial[s * count + i]. */
    public static void sumPartials(FloatArray partial, FloatArray dst, int count, int splits) {
        for (@Parallel int i = 0; i < count; i++) {
            float s = 0f;
            for (int j = 0; j < splits; j++) {
                s += partial.get(j * count + i);
            }
            dst.set(i, dst.get(i) + s);
        }
    }

    /** gb[ch] += sum over samples and pixels of g[img, ch, :]. One work-group of 256 per channel. */
    public static void channelSums(KernelContext ctx, FloatArray g, FloatArray gb, int n, int k, int plane) {
        int ch = ctx.groupIdx;
        int lid = ctx.localIdx;
        int total = n * plane;
        float s = 0f;
        for (int i = lid; i < total; i += 256) {
            int img = i / plane;
            s += g.get((img * k + ch) * plane + i % plane);
        }
        float sum = WorkGroup.sum(ctx, lid, 256, s);
        if (lid == 0) {
            gb.set(ch, gb.get(ch) + sum);
        }
    }

    // ---- groupnorm: a (sample, group) is len = C/groups * spatial consecutive elements ----------

    /** out = (x - mean) * rstd [* w[ch] + b[ch]]; element-wise over the n*c*sp elements. */
    public static void groupNormApply(FloatArray x, FloatArray stats, FloatArray w, FloatArray b, FloatArray out,
                                      int affine, int c, int sp, int len, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int ng = i / len;
            float v = (x.get(i) - stats.get(2 * ng)) * stats.get(2 * ng + 1);
            if (affine == 1) {
                int ch = (i / sp) % c;
                v = v * w.get(ch) + b.get(ch);
            }
            out.set(i, v);
        }
    }

    /**
     * gx += rstd * (gi - mean(gi) - xhat * mean(gi * xhat)) over each (sample, group), gi = g [* w[ch]].
     * One work-group of 256 per (sample, group).
     */
    public static void groupNormBackwardInput(KernelContext ctx, FloatArray x, FloatArray stats, FloatArray w, FloatArray g, FloatArray gx,
                                              int affine, int groups, int cpg, int sp) {
        float[] b1 = ctx.allocateFloatLocalArray(256);
        float[] b2 = ctx.allocateFloatLocalArray(256);
        int ng = ctx.groupIdx;
        int lid = ctx.localIdx;
        int len = cpg * sp;
        int o = ng * len;
        int c0 = (ng % groups) * cpg;
        float m = stats.get(2 * ng);
        float rs = stats.get(2 * ng + 1);
        float sg = 0f;
        float sgx = 0f;
        for (int i = lid; i < len; i += 256) {
            float gi = g.get(o + i);
            if (affine == 1) {
                gi = gi * w.get(c0 + i / sp);
            }
            float xh = (x.get(o + i) - m) * rs;
            sg += gi;
            sgx += gi * xh;
        }
        b1[lid] = sg;
        b2[lid] = sgx;
        ctx.localBarrier();
        for (int st = 128; st > 0; st >>= 1) {
            if (lid < st) {
                b1[lid] += b1[lid + st];
                b2[lid] += b2[lid + st];
            }
            ctx.localBarrier();
        }
        float mg = b1[0] / len;
        float mgx = b2[0] / len;
        for (int i = lid; i < len; i += 256) {
            float gi = g.get(o + i);
            if (affine == 1) {
                gi = gi * w.get(c0 + i / sp);
            }
            float xh = (x.get(o + i) - m) * rs;
            gx.set(o + i, gx.get(o + i) + rs * (gi - mg - xh * mgx));
        }
    }

    /**
     * gw[ch] += sum g * xhat, gb[ch] += sum g over samples and positions of channel ch.
     * One work-group of 256 per channel.
     */
    public static void groupNormBackwardAffine(KernelContext ctx, FloatArray x, FloatArray stats, FloatArray g, FloatArray gw, FloatArray gb,
                                               int useW, int useB, int n, int c, int cpg, int sp) {
        float[] aw = ctx.allocateFloatLocalArray(256);
        float[] ab = ctx.allocateFloatLocalArray(256);
        int ch = ctx.groupIdx;
        int lid = ctx.localIdx;
        int groups = c / cpg;
        int grp = ch / cpg;
        int total = n * sp;
        float sw = 0f;
        float sb = 0f;
        for (int i = lid; i < total; i += 256) {
            int img = i / sp;
            int ng = img * groups + grp;
            int o = (img * c + ch) * sp + i % sp;
            float gi = g.get(o);
            sw += gi * (x.get(o) - stats.get(2 * ng)) * stats.get(2 * ng + 1);
            sb += gi;
        }
        aw[lid] = sw;
        ab[lid] = sb;
        ctx.localBarrier();
        for (int st = 128; st > 0; st >>= 1) {
            if (lid < st) {
                aw[lid] += aw[lid + st];
                ab[lid] += ab[lid + st];
            }
            ctx.localBarrier();
        }
        if (lid == 0) {
            if (useW == 1) {
                gw.set(ch, gw.get(ch) + aw[0]);
            }
            if (useB == 1) {
                gb.set(ch, gb.get(ch) + ab[0]);
            }
        }
    }

    // ---- upsample (nearest, integer factor) ---------------------------------------------------

    /** out[pl, oy, ox] = x[pl, oy / f, ox / f]; one work-item per output element. Not named "upsample": that is an OpenCL C built-in (PoCL crashed on the clash). */
    public static void upsampleNearest(FloatArray x, FloatArray out, int h, int w, int f, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int ow = w * f;
            int oh = h * f;
            int ox = i % ow;
            int oy = (i / ow) % oh;
            int pl = i / (ow * oh);
            out.set(i, x.get((pl * h + oy / f) * w + ox / f));
        }
    }

    /** gx[pl, y, x] += sum of its f x f block of g (rows, then columns, as the CPU); one work-item per input element. */
    public static void upsampleNearestBackward(FloatArray g, FloatArray gx, int h, int w, int f, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int ix = i % w;
            int iy = (i / w) % h;
            int pl = i / (w * h);
            int ow = w * f;
            int base = (pl * h * f + iy * f) * ow + ix * f;
            float s = 0f;
            for (int q = 0; q < f * f; q++) {
                s += g.get(base + (q / f) * ow + q % f);
            }
            gx.set(i, gx.get(i) + s);
        }
    }
}
