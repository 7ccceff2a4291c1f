package erw.engine.tornado;

import erw.engine.Tensor;
import erw.engine.ops.Conv2d;
import erw.engine.ops.GroupNorm;
import erw.engine.ops.Upsample;
import erw.engine.tornado.kernels.ImageKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * conv2d (implicit GEMMs, see {@link ImageKernels}), groupnorm (one work-group per (sample, group),
 * statistics in a scratch buffer that the backward recomputes, like layernorm's) and nearest upsample.
 */
final class ImageLowering {
    private ImageLowering() {}

    /**
     * The weight gradient's inner dimension (samples x output pixels) is cut into this many chunks
     * at most so that the product has about this many work-items (a 3-channel input conv has only
     * K*27 weights, each a sum over every pixel of the batch).
     */
    static final int WEIGHT_GRAD_WORK_ITEMS = 1 << 18;
    /** Smallest chunk of the weight gradient's inner dimension (a multiple of the tile). */
    static final int MIN_CHUNK = 256;

    static void conv2d(Conv2d op, TaskSink s) {
        Tensor bias = op.bias();
        FloatArray xd = s.read(op.x()), wd = s.read(op.weight()), bd = bias == null ? s.dummy() : s.read(bias), od = s.write(op.out());
        int n = op.batch(), c = op.inChannels(), h = op.inHeight(), wi = op.inWidth(), k = op.outChannels();
        int kh = op.kernelHeight(), kw = op.kernelWidth(), ho = op.outHeight(), wo = op.outWidth();
        int stride = op.stride(), pt = op.padTop(), pl = op.padLeft(), hasBias = bias == null ? 0 : 1;
        KernelContext ctx = new KernelContext();
        String id = s.task("conv2d", ImageKernels::convForward, ctx, xd, wd, bd, od, n, c, h, wi, k, kh, kw, ho, wo, stride, pt, pl, hasBias);
        s.grid2(id, (long) n * ho * wo, k, ImageKernels.TILE, ImageKernels.TILE);
    }

    static void conv2dBackward(Conv2d op, TaskSink s) {
        Tensor x = op.x(), weight = op.weight(), bias = op.bias(), out = op.out();
        int n = op.batch(), c = op.inChannels(), h = op.inHeight(), wi = op.inWidth(), k = op.outChannels();
        int kh = op.kernelHeight(), kw = op.kernelWidth(), ho = op.outHeight(), wo = op.outWidth();
        int stride = op.stride(), pt = op.padTop(), pl = op.padLeft();
        FloatArray go = s.gradRead(out);
        if (bias != null && bias.requiresGrad()) {
            FloatArray gb = s.gradUpdate(bias);
            int plane = ho * wo;
            KernelContext ctx = new KernelContext();
            String id = s.task("conv2d_bwd_bias", ImageKernels::channelSums, ctx, go, gb, n, k, plane);
            s.grid1(id, (long) k * ImageKernels.GROUP, ImageKernels.GROUP);
        }
        if (weight.requiresGrad()) {
            FloatArray xd = s.read(x), gw = s.gradUpdate(weight);
            int cols = op.patchSize(), total = n * ho * wo, count = k * cols;
            int splits = weightGradSplits(count, total);
            int chunk = roundUp(ceilDiv(total, splits), ImageKernels.TILE);
            splits = ceilDiv(total, chunk);
            FloatArray target = splits == 1 ? gw : s.scratch(splits * count);
            int accumulate = splits == 1 ? 1 : 0;
            KernelContext ctx = new KernelContext();
            String id = s.task("conv2d_bwd_weight", ImageKernels::convBackwardWeight, ctx, go, xd, target,
                    n, c, h, wi, k, kh, kw, ho, wo, stride, pt, pl, chunk, accumulate);
            s.grid2(id, cols, (long) roundUp(k, ImageKernels.TILE) * splits, ImageKernels.TILE, ImageKernels.TILE);
            if (splits > 1) s.task("conv2d_bwd_weight_sum", ImageKernels::sumPartials, target, gw, count, splits);
        }
        if (x.requiresGrad()) {
            FloatArray wd = s.read(weight), gx = s.gradUpdate(x);
            KernelContext ctx = new KernelContext();
            String id = s.task("conv2d_bwd_input", ImageKernels::convBackwardInput, ctx, go, wd, gx,
                    n, c, h, wi, k, kh, kw, ho, wo, stride, pt, pl);
            s.grid2(id, (long) n * h * wi, c, ImageKernels.TILE, ImageKernels.TILE);
        }
    }

    /** Chunks of the weight gradient's inner dimension: enough work-items, chunks of at least MIN_CHUNK. */
    static int weightGradSplits(int weights, int inner) {
        int wanted = ceilDiv(WEIGHT_GRAD_WORK_ITEMS, weights);
        return Math.max(1, Math.min(wanted, ceilDiv(inner, MIN_CHUNK)));
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static int roundUp(int a, int m) {
        return ceilDiv(a, m) * m;
    }

    /** A (sample, group) slab is a row of C/groups * spatial consecutive values: layernorm's statistics kernel. */
    private static FloatArray groupNormStats(GroupNorm op, TaskSink s, FloatArray x) {
        return RowLowering.rowStats(s, "groupnorm_stats", x, op.batch() * op.groups(), op.channelsPerGroup() * op.spatial(), op.eps());
    }

    static void groupNorm(GroupNorm op, TaskSink s) {
        Tensor x = op.x(), w = op.weight(), b = op.bias();
        FloatArray xd = s.read(x);
        FloatArray stats = groupNormStats(op, s, xd);
        FloatArray wd = w == null ? s.dummy() : s.read(w), bd = b == null ? s.dummy() : s.read(b), od = s.write(op.out());
        int affine = w == null ? 0 : 1, c = op.channels(), sp = op.spatial(), len = op.channelsPerGroup() * sp, total = x.size();
        s.task("groupnorm_apply", ImageKernels::groupNormApply, xd, stats, wd, bd, od, affine, c, sp, len, total);
    }

    static void groupNormBackward(GroupNorm op, TaskSink s) {
        Tensor x = op.x(), w = op.weight(), b = op.bias(), out = op.out();
        boolean affineGrads = w != null && (w.requiresGrad() || b.requiresGrad());
        if (!x.requiresGrad() && !affineGrads) return;
        int n = op.batch(), c = op.channels(), groups = op.groups(), cpg = op.channelsPerGroup(), sp = op.spatial();
        FloatArray xd = s.read(x), go = s.gradRead(out);
        FloatArray stats = groupNormStats(op, s, xd);
        if (x.requiresGrad()) {
            FloatArray wd = w == null ? s.dummy() : s.read(w), gx = s.gradUpdate(x);
            int affine = w == null ? 0 : 1;
            KernelContext ctx = new KernelContext();
            String id = s.task("groupnorm_bwd_x", ImageKernels::groupNormBackwardInput, ctx, xd, stats, wd, go, gx, affine, groups, cpg, sp);
            s.grid1(id, (long) n * groups * ImageKernels.GROUP, ImageKernels.GROUP);
        }
        if (affineGrads) {
            FloatArray gw = s.gradUpdateOrDummy(w), gb = s.gradUpdateOrDummy(b);
            int useW = w.requiresGrad() ? 1 : 0, useB = b.requiresGrad() ? 1 : 0;
            KernelContext ctx = new KernelContext();
            String id = s.task("groupnorm_bwd_affine", ImageKernels::groupNormBackwardAffine, ctx, xd, stats, go, gw, gb, useW, useB, n, c, cpg, sp);
            s.grid1(id, (long) c * ImageKernels.GROUP, ImageKernels.GROUP);
        }
    }

    static void upsample(Upsample op, TaskSink s) {
        FloatArray xd = s.read(op.x()), od = s.write(op.out());
        int h = op.inHeight(), w = op.inWidth(), f = op.factor(), total = op.out().size();
        s.task("upsample", ImageKernels::upsampleNearest, xd, od, h, w, f, total);
    }

    static void upsampleBackward(Upsample op, TaskSink s) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        FloatArray go = s.gradRead(op.out()), gx = s.gradUpdate(x);
        int h = op.inHeight(), w = op.inWidth(), f = op.factor(), total = x.size();
        s.task("upsample_bwd", ImageKernels::upsampleNearestBackward, go, gx, h, w, f, total);
    }
}
