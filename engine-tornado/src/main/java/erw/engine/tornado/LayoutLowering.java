package erw.engine.tornado;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.tornado.kernels.LayoutKernels;
import java.util.List;
import java.util.Set;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** patchify, unpatchify, concat, chunk, embedding, rope, token_mean, timestep_embedding. */
final class LayoutLowering implements OpLowering {
    @Override
    public Set<String> types() {
        return Set.of("patchify", "unpatchify", "concat", "chunk", "embedding", "rope", "token_mean", "timestep_embedding");
    }

    @Override
    public void forward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "patchify", "unpatchify" -> patches(f, s, false);
            case "concat", "chunk" -> concat(f, s, false);
            case "embedding" -> {
                Tensor table = f.tensor("table"), index = f.tensor("index"), out = f.tensor("out");
                RowLowering.checkLabels(op, s, index, f.integer("vocab"));
                FloatArray td = s.read(table), id = s.read(index), od = s.write(out);
                int d = f.integer("d"), total = out.size();
                s.task("embedding", (g, i) -> g.task(i, LayoutKernels::embedding, td, id, od, d, total));
            }
            case "rope" -> {
                Tensor in = f.tensor("in"), out = f.tensor("out");
                FloatArray x = s.read(in), c = s.read(f.tensor("cos")), sn = s.read(f.tensor("sin")), o = s.write(out);
                int t = f.integer("t"), dim = f.integer("dim"), hd = f.integer("hd"), total = in.size();
                s.task("rope", (g, i) -> g.task(i, LayoutKernels::rope, x, c, sn, o, t, dim, hd, 0, total));
            }
            case "token_mean" -> {
                Tensor x = f.tensor("x"), out = f.tensor("out");
                FloatArray xd = s.read(x), od = s.write(out);
                int t = f.integer("t"), d = f.integer("d"), total = out.size();
                s.task("token_mean", (g, i) -> g.task(i, LayoutKernels::tokenMean, xd, od, t, d, total));
            }
            default -> { // timestep_embedding
                Tensor t = f.tensor("t"), out = f.tensor("out");
                FloatArray td = s.read(t), od = s.write(out);
                int half = f.integer("half"), total = t.size() * half;
                s.task("timestep_embedding", (g, i) -> g.task(i, LayoutKernels::timestepEmbedding, td, od, half, total));
            }
        }
    }

    @Override
    public void backward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "patchify", "unpatchify" -> patches(f, s, true);
            case "concat", "chunk" -> concat(f, s, true);
            case "embedding" -> {
                Tensor table = f.tensor("table"), index = f.tensor("index"), out = f.tensor("out");
                if (!table.requiresGrad()) return;
                FloatArray go = s.gradRead(out), id = s.read(index), gt = s.gradUpdate(table);
                int count = index.size(), d = f.integer("d");
                s.task("embedding_bwd", (g, i) -> g.task(i, LayoutKernels::embeddingBackward, go, id, gt, count, d));
            }
            case "rope" -> {
                Tensor in = f.tensor("in"), out = f.tensor("out");
                if (!in.requiresGrad()) return;
                FloatArray go = s.gradRead(out), c = s.read(f.tensor("cos")), sn = s.read(f.tensor("sin")), gx = s.gradUpdate(in);
                int t = f.integer("t"), dim = f.integer("dim"), hd = f.integer("hd"), total = in.size();
                s.task("rope_bwd", (g, i) -> g.task(i, LayoutKernels::rope, go, c, sn, gx, t, dim, hd, 1, total));
            }
            case "token_mean" -> {
                Tensor x = f.tensor("x"), out = f.tensor("out");
                if (!x.requiresGrad()) return;
                FloatArray go = s.gradRead(out), gx = s.gradUpdate(x);
                int t = f.integer("t"), d = f.integer("d"), total = x.size();
                s.task("token_mean_bwd", (g, i) -> g.task(i, LayoutKernels::tokenMeanBackward, go, gx, t, d, total));
            }
            default -> { } // timestep_embedding is not differentiated (t is data)
        }
    }

    /** (un)patchify forward, or its backward (the inverse permutation, accumulating). */
    private static void patches(OpFields f, TaskSink s, boolean backward) {
        Tensor src = f.tensor("src"), dst = f.tensor("dst");
        boolean inverse = f.flag("inverse");
        int c = f.integer("c"), hh = f.integer("hh"), ww = f.integer("ww"), p = f.integer("p"), total = src.size();
        int ijc = inverse ? 1 : 0;
        if (!backward) {
            FloatArray from = s.read(src), to = s.write(dst);
            int imageToTokens = inverse ? 0 : 1;
            s.task("patchify", (g, i) -> g.task(i, LayoutKernels::permutePatches, from, to, c, hh, ww, p, ijc, imageToTokens, 0, total));
        } else if (src.requiresGrad()) {
            FloatArray from = s.gradRead(dst), to = s.gradUpdate(src);
            int imageToTokens = inverse ? 1 : 0;
            s.task("patchify_bwd", (g, i) -> g.task(i, LayoutKernels::permutePatches, from, to, c, hh, ww, p, ijc, imageToTokens, 1, total));
        }
    }

    /** Concatenation / chunking along the last axis as column-block copies; backward adds the gradients back. */
    private static void concat(OpFields f, TaskSink s, boolean backward) {
        List<Tensor> parts = f.tensors("parts");
        Tensor whole = f.tensor("whole");
        boolean chunk = f.flag("chunk");
        int rows = f.integer("rows"), width = f.integer("total");
        int[] offsets = (int[]) f.raw("offsets");
        for (int k = 0; k < parts.size(); k++) {
            Tensor part = parts.get(k);
            int w = part.cols(), off = offsets[k], total = rows * w;
            boolean toWhole = backward == chunk; // forward concat and backward chunk write into the whole
            if (!backward) {
                if (toWhole) {
                    FloatArray src = s.read(part), dst = s.write(whole);
                    s.task("concat", (g, i) -> g.task(i, LayoutKernels::copyColumns, src, w, 0, dst, width, off, w, 0, total));
                } else {
                    FloatArray src = s.read(whole), dst = s.write(part);
                    s.task("chunk", (g, i) -> g.task(i, LayoutKernels::copyColumns, src, width, off, dst, w, 0, w, 0, total));
                }
            } else if (part.grad() != null && whole.grad() != null && (chunk ? whole.requiresGrad() : true)) {
                if (toWhole) {
                    FloatArray src = s.gradRead(part), dst = s.gradUpdate(whole);
                    s.task("chunk_bwd", (g, i) -> g.task(i, LayoutKernels::copyColumns, src, w, 0, dst, width, off, w, 1, total));
                } else {
                    FloatArray src = s.gradRead(whole), dst = s.gradUpdate(part);
                    s.task("concat_bwd", (g, i) -> g.task(i, LayoutKernels::copyColumns, src, width, off, dst, w, 0, w, 1, total));
                }
            }
        }
    }
}
