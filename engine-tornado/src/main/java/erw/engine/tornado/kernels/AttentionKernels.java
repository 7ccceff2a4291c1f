package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Multi-head attention on packed qkv (N*T, 3D) laid out (N, T, 3, h, d). One work-group of 64 per
 * (sample, head, row); the row of T scores lives in local memory (so T <= {@link #MAX_TOKENS}),
 * max and sum by local trees. Launch: global N*h*T*64, local 64.
 *
 * <p>The backward runs in two passes so that no two work-groups write the same gradient row:
 * per query row (dQ, plus the row's log-sum-exp and D = dO.O saved in {@code stats}), then per
 * key row (dK, dV), which recomputes the probabilities from the saved statistics.
 */
public final class AttentionKernels {
    private AttentionKernels() {}

    public static final int GROUP = 64;
    public static final int MAX_TOKENS = 1024;

    public static void forward(KernelContext ctx, FloatArray qkv, FloatArray out, int t, int heads, int dim, int hd, float scale) {
        float[] p = ctx.allocateFloatLocalArray(1024);
        float[] red = ctx.allocateFloatLocalArray(64);
        int g = ctx.groupIdx;
        int lid = ctx.localIdx;
        int i = g % t;
        int bh = g / t;
        int h = bh % heads;
        int b = bh / heads;
        int stride = 3 * dim;
        int qo = (b * t + i) * stride + h * hd;
        int kb = b * t * stride + dim + h * hd;
        int vb = kb + dim;
        float mx = -3.4028235e38f;
        for (int j = lid; j < t; j += 64) {
            float s = 0f;
            for (int c = 0; c < hd; c++) {
                s += qkv.get(qo + c) * qkv.get(kb + j * stride + c);
            }
            s = s * scale;
            p[j] = s;
            mx = TornadoMath.max(mx, s);
        }
        red[lid] = mx;
        ctx.localBarrier();
        for (int st = 32; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] = TornadoMath.max(red[lid], red[lid + st]);
            }
            ctx.localBarrier();
        }
        float m = red[0];
        ctx.localBarrier();
        float sum = 0f;
        for (int j = lid; j < t; j += 64) {
            float e = TornadoMath.exp(p[j] - m);
            p[j] = e;
            sum += e;
        }
        red[lid] = sum;
        ctx.localBarrier();
        for (int st = 32; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] += red[lid + st];
            }
            ctx.localBarrier();
        }
        float inv = 1f / red[0];
        int oo = (b * t + i) * dim + h * hd;
        for (int c = lid; c < hd; c += 64) {
            float o = 0f;
            for (int j = 0; j < t; j++) {
                o += p[j] * inv * qkv.get(vb + j * stride + c);
            }
            out.set(oo + c, o);
        }
    }

    /**
     * Pass 1 of the backward, per query row: dQ += dS K (written from zero when accumulate is 0: the gradient's
     * first write); stats[2g] = lse, stats[2g+1] = dO.O.
     */
    public static void backwardQuery(KernelContext ctx, FloatArray qkv, FloatArray out, FloatArray gout, FloatArray gqkv, FloatArray stats,
                                     int t, int heads, int dim, int hd, float scale, int accumulate) {
        float[] p = ctx.allocateFloatLocalArray(1024);
        float[] red = ctx.allocateFloatLocalArray(64);
        int g = ctx.groupIdx;
        int lid = ctx.localIdx;
        int i = g % t;
        int bh = g / t;
        int h = bh % heads;
        int b = bh / heads;
        int stride = 3 * dim;
        int qo = (b * t + i) * stride + h * hd;
        int kb = b * t * stride + dim + h * hd;
        int vb = kb + dim;
        int oo = (b * t + i) * dim + h * hd;
        float mx = -3.4028235e38f;
        for (int j = lid; j < t; j += 64) {
            float s = 0f;
            for (int c = 0; c < hd; c++) {
                s += qkv.get(qo + c) * qkv.get(kb + j * stride + c);
            }
            s = s * scale;
            p[j] = s;
            mx = TornadoMath.max(mx, s);
        }
        red[lid] = mx;
        ctx.localBarrier();
        for (int st = 32; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] = TornadoMath.max(red[lid], red[lid + st]);
            }
            ctx.localBarrier();
        }
        float m = red[0];
        ctx.localBarrier();
        float sum = 0f;
        for (int j = lid; j < t; j += 64) {
            float e = TornadoMath.exp(p[j] - m);
            p[j] = e;
            sum += e;
        }
        red[lid] = sum;
        ctx.localBarrier();
        for (int st = 32; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] += red[lid + st];
            }
            ctx.localBarrier();
        }
        float total = red[0];
        ctx.localBarrier();
        float dpart = 0f;
        for (int c = lid; c < hd; c += 64) {
            dpart += gout.get(oo + c) * out.get(oo + c);
        }
        red[lid] = dpart;
        ctx.localBarrier();
        for (int st = 32; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] += red[lid + st];
            }
            ctx.localBarrier();
        }
        float di = red[0];
        for (int j = lid; j < t; j += 64) {
            float dp = 0f;
            for (int c = 0; c < hd; c++) {
                dp += gout.get(oo + c) * qkv.get(vb + j * stride + c);
            }
            float pj = p[j] / total;
            p[j] = pj * (dp - di) * scale;
        }
        ctx.localBarrier();
        for (int c = lid; c < hd; c += 64) {
            float acc = 0f;
            for (int j = 0; j < t; j++) {
                acc += p[j] * qkv.get(kb + j * stride + c);
            }
            float base = accumulate != 0 ? gqkv.get(qo + c) : 0f;
            gqkv.set(qo + c, base + acc);
        }
        if (lid == 0) {
            stats.set(2 * g, m + TornadoMath.log(total));
            stats.set(2 * g + 1, di);
        }
    }

    /** Pass 2 of the backward, per key row j: dK += dS^T Q, dV += P^T dO (written from zero when accumulate is 0). */
    public static void backwardKeyValue(KernelContext ctx, FloatArray qkv, FloatArray gout, FloatArray gqkv, FloatArray stats,
                                        int t, int heads, int dim, int hd, float scale, int accumulate) {
        float[] p = ctx.allocateFloatLocalArray(1024);
        float[] ds = ctx.allocateFloatLocalArray(1024);
        int g = ctx.groupIdx;
        int lid = ctx.localIdx;
        int j = g % t;
        int bh = g / t;
        int h = bh % heads;
        int b = bh / heads;
        int stride = 3 * dim;
        int ko = (b * t + j) * stride + dim + h * hd;
        int vo = ko + dim;
        for (int i = lid; i < t; i += 64) {
            int qi = (b * t + i) * stride + h * hd;
            int oi = (b * t + i) * dim + h * hd;
            float s = 0f;
            float dp = 0f;
            for (int c = 0; c < hd; c++) {
                s += qkv.get(qi + c) * qkv.get(ko + c);
                dp += gout.get(oi + c) * qkv.get(vo + c);
            }
            int si = 2 * (bh * t + i);
            float pij = TornadoMath.exp(s * scale - stats.get(si));
            p[i] = pij;
            ds[i] = pij * (dp - stats.get(si + 1)) * scale;
        }
        ctx.localBarrier();
        for (int c = lid; c < hd; c += 64) {
            float dk = 0f;
            float dv = 0f;
            for (int i = 0; i < t; i++) {
                dk += ds[i] * qkv.get((b * t + i) * stride + h * hd + c);
                dv += p[i] * gout.get((b * t + i) * dim + h * hd + c);
            }
            float baseK = accumulate != 0 ? gqkv.get(ko + c) : 0f;
            float baseV = accumulate != 0 ? gqkv.get(vo + c) : 0f;
            gqkv.set(ko + c, baseK + dk);
            gqkv.set(vo + c, baseV + dv);
        }
    }
}
