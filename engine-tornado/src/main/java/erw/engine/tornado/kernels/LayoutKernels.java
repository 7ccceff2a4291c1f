package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** Permutations and gathers (patchify, concat/chunk, embedding, RoPE, token mean, timestep features). */
public final class LayoutKernels {
    private LayoutKernels() {}

    /**
     * Patch (un)folding as one pass over the image elements (a bijection, so no two work-items
     * write the same place). tokensIJC = 1: token vectors ordered (i, j, c) (unpatchify's layout),
     * else (c, i, j). imageToTokens picks the direction; accumulate adds (the backward).
     */
    public static void permutePatches(FloatArray from, FloatArray to, int c, int hh, int ww, int p, int tokensIJC, int imageToTokens, int accumulate, int total) {
        for (@Parallel int img = 0; img < total; img++) {
            int x = img % ww;
            int y = (img / ww) % hh;
            int ch = (img / (ww * hh)) % c;
            int b = img / (ww * hh * c);
            int gw = ww / p;
            int gh = hh / p;
            int token = (y / p) * gw + (x / p);
            int i = y % p;
            int j = x % p;
            int within = tokensIJC == 1 ? (i * p + j) * c + ch : (ch * p + i) * p + j;
            int tok = (b * gh * gw + token) * (c * p * p) + within;
            int s = imageToTokens == 1 ? img : tok;
            int d = imageToTokens == 1 ? tok : img;
            float v = from.get(s);
            if (accumulate == 1) {
                v += to.get(d);
            }
            to.set(d, v);
        }
    }

    /** Copies (or adds) a (rows x w) block: dst[r, dstOff + k] (+)= src[r, srcOff + k]. */
    public static void copyColumns(FloatArray src, int srcStride, int srcOff, FloatArray dst, int dstStride, int dstOff, int w, int accumulate, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int r = e / w;
            int k = e % w;
            float v = src.get(r * srcStride + srcOff + k);
            int d = r * dstStride + dstOff + k;
            if (accumulate == 1) {
                v += dst.get(d);
            }
            dst.set(d, v);
        }
    }

    /**
     * A (rows x 6w) matrix cut into its six column blocks of width w at once (adaLN's shift, scale and gate pairs):
     * one task instead of six. Launch over rows * 6w elements.
     */
    public static void chunk6(FloatArray src, FloatArray p0, FloatArray p1, FloatArray p2, FloatArray p3, FloatArray p4, FloatArray p5, int w, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int k = e % (6 * w) / w; // the block
            int d = e / (6 * w) * w + e % w; // its element
            float v = src.get(e);
            if (k == 0) {
                p0.set(d, v);
            } else if (k == 1) {
                p1.set(d, v);
            } else if (k == 2) {
                p2.set(d, v);
            } else if (k == 3) {
                p3.set(d, v);
            } else if (k == 4) {
                p4.set(d, v);
            } else {
                p5.set(d, v);
            }
        }
    }

    /** The backward of {@link #chunk6}: the six blocks' gradients added into the whole's, at their columns. */
    public static void chunk6Backward(FloatArray g0, FloatArray g1, FloatArray g2, FloatArray g3, FloatArray g4, FloatArray g5, FloatArray dst, int w, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int k = e % (6 * w) / w; // the block
            int d = e / (6 * w) * w + e % w; // its element
            float v = 0f;
            if (k == 0) {
                v = g0.get(d);
            } else if (k == 1) {
                v = g1.get(d);
            } else if (k == 2) {
                v = g2.get(d);
            } else if (k == 3) {
                v = g3.get(d);
            } else if (k == 4) {
                v = g4.get(d);
            } else {
                v = g5.get(d);
            }
            dst.set(e, dst.get(e) + v);
        }
    }

    /** out[i, :] = table[index[i], :]. */
    public static void embedding(FloatArray table, FloatArray index, FloatArray out, int d, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int i = e / d;
            int row = (int) index.get(i);
            out.set(e, table.get(row * d + e % d));
        }
    }

    /** gtable[index[i], c] += g[i, c]; one work-item per column so repeated rows add in index order. */
    public static void embeddingBackward(FloatArray g, FloatArray index, FloatArray gtable, int count, int d) {
        for (@Parallel int c = 0; c < d; c++) {
            for (int i = 0; i < count; i++) {
                int row = (int) index.get(i);
                gtable.set(row * d + c, gtable.get(row * d + c) + g.get(i * d + c));
            }
        }
    }

    /**
     * RoPE on q and k of packed qkv (rows of 3*dim), v copied; tables (t, hd). backward = 1 applies
     * the transposed rotation and accumulates.
     */
    public static void rope(FloatArray in, FloatArray cos, FloatArray sin, FloatArray out, int t, int dim, int hd, int backward, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int row = e / (3 * dim);
            int col = e % (3 * dim);
            float v = in.get(e);
            if (col < 2 * dim) {
                int i = (col % dim) % hd;
                int tab = (row % t) * hd;
                int even = i % 2 == 0 ? 1 : 0;
                float partner = even == 1 ? in.get(e + 1) : in.get(e - 1);
                if (backward == 0) {
                    v = even == 1 ? v * cos.get(tab + i) - partner * sin.get(tab + i) : v * cos.get(tab + i) + partner * sin.get(tab + i);
                } else {
                    v = even == 1 ? v * cos.get(tab + i) + partner * sin.get(tab + i + 1) : v * cos.get(tab + i) - partner * sin.get(tab + i - 1);
                }
            }
            if (backward == 1) {
                v += out.get(e);
            }
            out.set(e, v);
        }
    }

    /** out[b, c] = mean over the t token rows of sample b. */
    public static void tokenMean(FloatArray x, FloatArray out, int t, int d, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int b = e / d;
            int c = e % d;
            float s = 0f;
            for (int r = b * t; r < (b + 1) * t; r++) {
                s += x.get(r * d + c);
            }
            out.set(e, s * (1f / t));
        }
    }

    /** gx[r, c] += g[r / t, c] / t. */
    public static void tokenMeanBackward(FloatArray g, FloatArray gx, int t, int d, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int r = e / d;
            int c = e % d;
            gx.set(e, gx.get(e) + g.get((r / t) * d + c) * (1f / t));
        }
    }

    /**
     * [cos(t f_k), sin(t f_k)], f_k = exp(-ln(10000) k / halfDim), in double like the CPU reference.
     * (Not "half": kernel parameter names reach OpenCL C, where half is a type.)
     */
    public static void timestepEmbedding(FloatArray t, FloatArray out, int halfDim, int total) {
        for (@Parallel int e = 0; e < total; e++) {
            int i = e / halfDim;
            int k = e % halfDim;
            float f = (float) TornadoMath.exp(-TornadoMath.log(10000.0) * k / halfDim);
            float arg = t.get(i) * f;
            out.set(i * 2 * halfDim + k, (float) TornadoMath.cos((double) arg));
            out.set(i * 2 * halfDim + halfDim + k, (float) TornadoMath.sin((double) arg));
        }
    }
}
