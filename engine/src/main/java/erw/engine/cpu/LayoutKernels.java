package erw.engine.cpu;

import erw.engine.EngineException;
import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import erw.engine.ops.Chunk;
import erw.engine.ops.Concat;
import erw.engine.ops.Embedding;
import erw.engine.ops.Patchify;
import erw.engine.ops.Rope;
import erw.engine.ops.TimestepEmbedding;
import erw.engine.ops.TokenMean;
import erw.engine.ops.Unpatchify;
import java.util.List;

/**
 * CPU kernels of the layout ops (patchify, unpatchify, concat, chunk, embedding, rope, token_mean,
 * timestep_embedding), forward and backward side by side.
 */
final class LayoutKernels {
    private LayoutKernels() {}

    // ---- patchify, unpatchify: a pure permutation and its inverse ---------------------------------

    /** Index in the token tensor of image element (b, ch, y, x); inverse: tokens ordered (i, j, c), else (c, i, j). */
    private static int tokenIndex(boolean inverse, int c, int p, int gh, int gw, int b, int ch, int y, int x) {
        int token = (y / p) * gw + (x / p);
        int i = y % p, j = x % p;
        int within = inverse ? (i * p + j) * c + ch : (ch * p + i) * p + j;
        return (b * gh * gw + token) * (c * p * p) + within;
    }

    private static void permute(WorkerPool pool, boolean inverse, int n, int c, int hh, int ww, int p,
                                float[] from, float[] to, boolean imageToTokens, boolean accumulate) {
        int gh = hh / p, gw = ww / p;
        pool.parallelFor(n * c, (lo, hi) -> {
            for (int bc = lo; bc < hi; bc++) {
                int b = bc / c, ch = bc % c;
                for (int y = 0; y < hh; y++) {
                    for (int x = 0; x < ww; x++) {
                        int img = ((b * c + ch) * hh + y) * ww + x;
                        int tok = tokenIndex(inverse, c, p, gh, gw, b, ch, y, x);
                        int s = imageToTokens ? img : tok, d = imageToTokens ? tok : img;
                        if (accumulate) to[d] += from[s];
                        else to[d] = from[s];
                    }
                }
            }
        });
    }

    static void patchifyForward(Patchify op, WorkerPool pool) {
        permute(pool, false, op.batch(), op.channels(), op.height(), op.width(), op.patch(), op.src().data(), op.dst().data(), true, false);
    }

    static void patchifyBackward(Patchify op, WorkerPool pool) {
        if (op.src().requiresGrad()) permute(pool, false, op.batch(), op.channels(), op.height(), op.width(), op.patch(), op.dst().grad(), op.src().grad(), false, true);
    }

    static void unpatchifyForward(Unpatchify op, WorkerPool pool) {
        permute(pool, true, op.batch(), op.channels(), op.height(), op.width(), op.patch(), op.src().data(), op.dst().data(), false, false);
    }

    static void unpatchifyBackward(Unpatchify op, WorkerPool pool) {
        if (op.src().requiresGrad()) permute(pool, true, op.batch(), op.channels(), op.height(), op.width(), op.patch(), op.dst().grad(), op.src().grad(), true, true);
    }

    // ---- concat, chunk: column-block copies along the last axis ----------------------------------

    private static void copy(WorkerPool pool, List<Tensor> parts, Tensor whole, int[] offsets, boolean toWhole, boolean grads, boolean accumulate) {
        int rows = whole.rows(), total = whole.cols();
        pool.parallelFor(rows, 16, (lo, hi) -> {
            for (int k = 0; k < parts.size(); k++) {
                Tensor p = parts.get(k);
                float[] pd = grads ? p.grad() : p.data(), wd = grads ? whole.grad() : whole.data();
                if (pd == null || wd == null) continue;
                int w = p.cols(), off = offsets[k];
                for (int r = lo; r < hi; r++) {
                    int po = r * w, wo = r * total + off;
                    if (!accumulate) {
                        if (toWhole) System.arraycopy(pd, po, wd, wo, w);
                        else System.arraycopy(wd, wo, pd, po, w);
                    } else if (toWhole) {
                        for (int c = 0; c < w; c++) wd[wo + c] += pd[po + c];
                    } else {
                        for (int c = 0; c < w; c++) pd[po + c] += wd[wo + c];
                    }
                }
            }
        });
    }

    static void concatForward(Concat op, WorkerPool pool) {
        copy(pool, op.parts(), op.whole(), op.offsets(), true, false, false);
    }

    static void concatBackward(Concat op, WorkerPool pool) {
        copy(pool, op.parts(), op.whole(), op.offsets(), false, true, true);
    }

    static void chunkForward(Chunk op, WorkerPool pool) {
        copy(pool, op.parts(), op.whole(), op.offsets(), false, false, false);
    }

    static void chunkBackward(Chunk op, WorkerPool pool) {
        if (op.whole().requiresGrad()) copy(pool, op.parts(), op.whole(), op.offsets(), true, true, true);
    }

    // ---- embedding -----------------------------------------------------------------------------

    private static int row(Embedding op, int i) {
        Tensor index = op.index();
        int vocab = op.vocab();
        float f = index.data()[i];
        int r = (int) f;
        if (r != f || r < 0 || r >= vocab) {
            throw new EngineException(op.type() + " '" + op.name() + "': index " + f + " at position " + i + " of '" + index.name() + "' is outside [0, " + vocab + ")");
        }
        return r;
    }

    static void embeddingForward(Embedding op, WorkerPool pool) {
        int d = op.d();
        float[] td = op.table().data(), od = op.out().data();
        for (int i = 0; i < op.index().size(); i++) System.arraycopy(td, row(op, i) * d, od, i * d, d);
    }

    static void embeddingBackward(Embedding op, WorkerPool pool) {
        Tensor table = op.table();
        if (!table.requiresGrad()) return;
        int d = op.d();
        float[] g = op.out().grad(), gt = table.grad();
        // serial over indices so repeated rows accumulate in a fixed order
        for (int i = 0; i < op.index().size(); i++) {
            int r = row(op, i) * d, o = i * d;
            for (int c = 0; c < d; c++) gt[r + c] += g[o + c];
        }
    }

    // ---- rope ----------------------------------------------------------------------------------

    static void ropeForward(Rope op, WorkerPool pool) {
        int n = op.n(), t = op.t(), dim = op.dim(), hd = op.hd(), heads = op.heads();
        float[] x = op.in().data(), y = op.out().data(), c = op.cos().data(), s = op.sin().data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int j = r % t, row = r * 3 * dim, tab = j * hd;
                for (int part = 0; part < 2; part++) {
                    for (int h = 0; h < heads; h++) {
                        int o = row + part * dim + h * hd;
                        for (int i = 0; i < hd; i += 2) {
                            float u0 = x[o + i], u1 = x[o + i + 1];
                            y[o + i] = u0 * c[tab + i] - u1 * s[tab + i];
                            y[o + i + 1] = u1 * c[tab + i + 1] + u0 * s[tab + i + 1];
                        }
                    }
                }
                System.arraycopy(x, row + 2 * dim, y, row + 2 * dim, dim);
            }
        });
    }

    static void ropeBackward(Rope op, WorkerPool pool) {
        Tensor in = op.in();
        if (!in.requiresGrad()) return;
        int n = op.n(), t = op.t(), dim = op.dim(), hd = op.hd(), heads = op.heads();
        float[] g = op.out().grad(), gx = in.grad(), c = op.cos().data(), s = op.sin().data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int j = r % t, row = r * 3 * dim, tab = j * hd;
                for (int part = 0; part < 2; part++) {
                    for (int h = 0; h < heads; h++) {
                        int o = row + part * dim + h * hd;
                        for (int i = 0; i < hd; i += 2) {
                            float g0 = g[o + i], g1 = g[o + i + 1];
                            gx[o + i] += g0 * c[tab + i] + g1 * s[tab + i + 1];
                            gx[o + i + 1] += g1 * c[tab + i + 1] - g0 * s[tab + i];
                        }
                    }
                }
                for (int i = 0; i < dim; i++) gx[row + 2 * dim + i] += g[row + 2 * dim + i];
            }
        });
    }

    // ---- token_mean ----------------------------------------------------------------------------

    static void tokenMeanForward(TokenMean op, WorkerPool pool) {
        int n = op.n(), t = op.t(), d = op.d();
        float[] xd = op.x().data(), od = op.out().data();
        float inv = 1f / t;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                java.util.Arrays.fill(od, b * d, (b + 1) * d, 0f);
                for (int r = b * t; r < (b + 1) * t; r++) for (int c = 0; c < d; c++) od[b * d + c] += xd[r * d + c];
                for (int c = 0; c < d; c++) od[b * d + c] *= inv;
            }
        });
    }

    static void tokenMeanBackward(TokenMean op, WorkerPool pool) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        int n = op.n(), t = op.t(), d = op.d();
        float[] g = op.out().grad(), gx = x.grad();
        float inv = 1f / t;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                for (int r = b * t; r < (b + 1) * t; r++) for (int c = 0; c < d; c++) gx[r * d + c] += g[b * d + c] * inv;
            }
        });
    }

    // ---- timestep_embedding (not differentiated: t is data) ----------------------------------------

    static void timestepEmbeddingForward(TimestepEmbedding op, WorkerPool pool) {
        int dim = op.dim(), half = op.half();
        float[] td = op.t().data(), od = op.out().data();
        for (int i = 0; i < td.length; i++) {
            for (int k = 0; k < half; k++) {
                float f = (float) Math.exp(-Math.log(10000.0) * k / half);
                float arg = td[i] * f;
                od[i * dim + k] = (float) Math.cos(arg);
                od[i * dim + half + k] = (float) Math.sin(arg);
            }
        }
    }
}
