package erw.engine.tornado;

import erw.engine.Tensor;
import erw.engine.ops.Chunk;
import erw.engine.ops.Concat;
import erw.engine.ops.Embedding;
import erw.engine.ops.Patchify;
import erw.engine.ops.Rope;
import erw.engine.ops.TimestepEmbedding;
import erw.engine.ops.TokenMean;
import erw.engine.ops.Unpatchify;
import erw.engine.tornado.kernels.LayoutKernels;
import java.util.List;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** patchify, unpatchify, concat, chunk, embedding, rope, token_mean, timestep_embedding. */
final class LayoutLowering {
    private LayoutLowering() {}

    static void patchify(Patchify op, TaskSink s, boolean backward) {
        patches(op.src(), op.dst(), false, op.channels(), op.height(), op.width(), op.patch(), s, backward);
    }

    static void unpatchify(Unpatchify op, TaskSink s, boolean backward) {
        patches(op.src(), op.dst(), true, op.channels(), op.height(), op.width(), op.patch(), s, backward);
    }

    static void concat(Concat op, TaskSink s, boolean backward) {
        concat(op.parts(), op.whole(), false, op.offsets(), s, backward);
    }

    static void chunk(Chunk op, TaskSink s, boolean backward) {
        List<Tensor> parts = op.parts();
        Tensor whole = op.whole();
        boolean six = parts.size() == 6 && parts.stream().allMatch(p -> p.cols() * 6 == whole.cols());
        if (six && !backward) { // adaLN's six modulation vectors: one task
            FloatArray[] p = new FloatArray[6];
            for (int k = 0; k < 6; k++) p[k] = s.write(parts.get(k));
            s.task("chunk6", LayoutKernels::chunk6, s.read(whole), p[0], p[1], p[2], p[3], p[4], p[5], parts.get(0).cols(), whole.size());
        } else if (six && whole.requiresGrad() && parts.stream().allMatch(Tensor::requiresGrad)) {
            FloatArray[] g = new FloatArray[6];
            for (int k = 0; k < 6; k++) g[k] = s.gradRead(parts.get(k));
            s.task("chunk6_bwd", LayoutKernels::chunk6Backward, g[0], g[1], g[2], g[3], g[4], g[5], s.gradUpdate(whole), parts.get(0).cols(), whole.size());
        } else {
            concat(parts, whole, true, op.offsets(), s, backward);
        }
    }

    static void embedding(Embedding op, TaskSink s) {
        Tensor index = op.index(), out = op.out();
        RowLowering.checkLabels(op, s, index, op.vocab());
        FloatArray td = s.read(op.table()), id = s.read(index), od = s.write(out);
        int d = op.d(), total = out.size();
        s.task("embedding", LayoutKernels::embedding, td, id, od, d, total);
    }

    static void rope(Rope op, TaskSink s) {
        Tensor in = op.in();
        FloatArray x = s.read(in), c = s.read(op.cos()), sn = s.read(op.sin()), o = s.write(op.out());
        int t = op.t(), dim = op.dim(), hd = op.hd(), total = in.size();
        s.task("rope", LayoutKernels::rope, x, c, sn, o, t, dim, hd, 0, total);
    }

    static void tokenMean(TokenMean op, TaskSink s) {
        Tensor out = op.out();
        FloatArray xd = s.read(op.x()), od = s.write(out);
        int t = op.t(), d = op.d(), total = out.size();
        s.task("token_mean", LayoutKernels::tokenMean, xd, od, t, d, total);
    }

    static void timestepEmbedding(TimestepEmbedding op, TaskSink s) {
        Tensor t = op.t();
        FloatArray td = s.read(t), od = s.write(op.out());
        int half = op.half(), total = t.size() * half;
        s.task("timestep_embedding", LayoutKernels::timestepEmbedding, td, od, half, total);
    }

    static void embeddingBackward(Embedding op, TaskSink s) {
        Tensor table = op.table(), index = op.index();
        if (!table.requiresGrad()) return;
        FloatArray go = s.gradRead(op.out()), id = s.read(index), gt = s.gradUpdate(table);
        int count = index.size(), d = op.d();
        s.task("embedding_bwd", LayoutKernels::embeddingBackward, go, id, gt, count, d);
    }

    static void ropeBackward(Rope op, TaskSink s) {
        Tensor in = op.in();
        if (!in.requiresGrad()) return;
        FloatArray go = s.gradRead(op.out()), c = s.read(op.cos()), sn = s.read(op.sin()), gx = s.gradUpdate(in);
        int t = op.t(), dim = op.dim(), hd = op.hd(), total = in.size();
        s.task("rope_bwd", LayoutKernels::rope, go, c, sn, gx, t, dim, hd, 1, total);
    }

    static void tokenMeanBackward(TokenMean op, TaskSink s) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        FloatArray go = s.gradRead(op.out()), gx = s.gradUpdate(x);
        int t = op.t(), d = op.d(), total = x.size();
        s.task("token_mean_bwd", LayoutKernels::tokenMeanBackward, go, gx, t, d, total);
    }

    /** (un)patchify forward, or its backward (the inverse permutation, accumulating). */
    private static void patches(Tensor src, Tensor dst, boolean inverse, int c, int hh, int ww, int p, TaskSink s, boolean backward) {
        int total = src.size();
        int ijc = inverse ? 1 : 0;
        if (!backward) {
            FloatArray from = s.read(src), to = s.write(dst);
            int imageToTokens = inverse ? 0 : 1;
            s.task("patchify", LayoutKernels::permutePatches, from, to, c, hh, ww, p, ijc, imageToTokens, 0, total);
        } else if (src.requiresGrad()) {
            FloatArray from = s.gradRead(dst), to = s.gradUpdate(src);
            int imageToTokens = inverse ? 1 : 0;
            s.task("patchify_bwd", LayoutKernels::permutePatches, from, to, c, hh, ww, p, ijc, imageToTokens, 1, total);
        }
    }

    /** Concatenation / chunking along the last axis as column-block copies; backward adds the gradients back. */
    private static void concat(List<Tensor> parts, Tensor whole, boolean chunk, int[] offsets, TaskSink s, boolean backward) {
        int rows = whole.rows(), width = whole.cols();
        for (int k = 0; k < parts.size(); k++) {
            Tensor part = parts.get(k);
            int w = part.cols(), off = offsets[k], total = rows * w;
            boolean toWhole = backward == chunk; // forward concat and backward chunk write into the whole
            if (!backward) {
                if (toWhole) {
                    FloatArray src = s.read(part), dst = s.write(whole);
                    s.task("concat", LayoutKernels::copyColumns, src, w, 0, dst, width, off, w, 0, total);
                } else {
                    FloatArray src = s.read(whole), dst = s.write(part);
                    s.task("chunk", LayoutKernels::copyColumns, src, width, off, dst, w, 0, w, 0, total);
                }
            } else if (part.requiresGrad() && whole.requiresGrad()) {
                if (toWhole) {
                    FloatArray src = s.gradRead(part), dst = s.gradUpdate(whole);
                    s.task("chunk_bwd", LayoutKernels::copyColumns, src, w, 0, dst, width, off, w, 1, total);
                } else {
                    FloatArray src = s.gradRead(whole), dst = s.gradUpdate(part);
                    s.task("concat_bwd", LayoutKernels::copyColumns, src, width, off, dst, w, 0, w, 1, total);
                }
            }
        }
    }
}
