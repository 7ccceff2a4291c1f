package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * Patch (un)folding, a pure permutation.
 * <ul>
 * <li>{@code patchify}: images (N, C, H, W) to (N*T, C*p*p) with tokens in row-major patch order and
 * each vector ordered (c, i, j), so that a Linear with the conv weight (D, C, p, p) viewed as
 * (D, C*p*p) equals the stride-p convolution of the patch embedder;</li>
 * <li>{@code unpatchify}: (N*T, p*p*C) ordered (i, j, c) back to (N, C, H, W), the published
 * final layer's {@code nhwpqc -> nchpwq}.</li>
 * </ul>
 */
public final class Patchify extends Op {
    private final Tensor src, dst;
    private final boolean inverse;
    private final int n, c, hh, ww, p, gh, gw;

    /** @param inverse false: src is the image (N,C,H,W); true: dst is the image. */
    public Patchify(String name, Tensor src, Tensor dst, int batch, int channels, int height, int width, int patch, boolean inverse) {
        super(name);
        this.src = src;
        this.dst = dst;
        this.inverse = inverse;
        this.n = batch;
        this.c = channels;
        this.hh = height;
        this.ww = width;
        this.p = patch;
        if (patch < 1 || height % patch != 0 || width % patch != 0) throw shapeError(type(), name, "image " + height + "x" + width + " is not divisible by patch " + patch, src);
        this.gh = height / patch;
        this.gw = width / patch;
        int total = batch * channels * height * width;
        if (src.size() != total || dst.size() != total) throw shapeError(type(), name, "expected " + total + " elements for N=" + batch + ", C=" + channels + ", " + height + "x" + width, src, dst);
        Tensor tokens = inverse ? src : dst;
        if (tokens.cols() != c * p * p) throw shapeError(type(), name, "token tensor's last dimension must be C*p*p = " + c * p * p, tokens);
    }

    @Override public String type() { return inverse ? "unpatchify" : "patchify"; }
    @Override public List<Tensor> inputs() { return List.of(src); }
    @Override public List<Tensor> outputs() { return List.of(dst); }

    /** Index in the token tensor of image element (b, ch, y, x). */
    private int tokenIndex(int b, int ch, int y, int x) {
        int token = (y / p) * gw + (x / p);
        int i = y % p, j = x % p;
        int within = inverse ? (i * p + j) * c + ch : (ch * p + i) * p + j;
        return (b * gh * gw + token) * (c * p * p) + within;
    }

    private void permute(WorkerPool pool, float[] from, float[] to, boolean imageToTokens, boolean accumulate) {
        pool.parallelFor(n * c, (lo, hi) -> {
            for (int bc = lo; bc < hi; bc++) {
                int b = bc / c, ch = bc % c;
                for (int y = 0; y < hh; y++) {
                    for (int x = 0; x < ww; x++) {
                        int img = ((b * c + ch) * hh + y) * ww + x;
                        int tok = tokenIndex(b, ch, y, x);
                        int s = imageToTokens ? img : tok, d = imageToTokens ? tok : img;
                        if (accumulate) to[d] += from[s];
                        else to[d] = from[s];
                    }
                }
            }
        });
    }

    @Override
    public void forward(WorkerPool pool) {
        permute(pool, src.data(), dst.data(), !inverse, false);
    }

    @Override
    public void backward(WorkerPool pool) {
        if (src.requiresGrad()) permute(pool, dst.grad(), src.grad(), inverse, true);
    }
}
