package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.ops.AdamW;
import erw.engine.ops.Add;
import erw.engine.ops.Attention;
import erw.engine.ops.Chunk;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.Concat;
import erw.engine.ops.Conv2d;
import erw.engine.ops.CosineAlignLoss;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.Embedding;
import erw.engine.ops.GatedResidual;
import erw.engine.ops.Gelu;
import erw.engine.ops.GroupNorm;
import erw.engine.ops.L2Norm;
import erw.engine.ops.LayerNorm;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Matmul;
import erw.engine.ops.Mean;
import erw.engine.ops.Modulate;
import erw.engine.ops.MseLoss;
import erw.engine.ops.Mul;
import erw.engine.ops.NtXentLoss;
import erw.engine.ops.Patchify;
import erw.engine.ops.Randn;
import erw.engine.ops.Rope;
import erw.engine.ops.Scale;
import erw.engine.ops.SeedGrad;
import erw.engine.ops.Silu;
import erw.engine.ops.Softmax;
import erw.engine.ops.SoftmaxCrossEntropy;
import erw.engine.ops.Sum;
import erw.engine.ops.TimestepEmbedding;
import erw.engine.ops.TokenMean;
import erw.engine.ops.Unpatchify;
import erw.engine.ops.Upsample;
import erw.engine.ops.ZeroGrad;

/**
 * The catalogue on TornadoVM: one exhaustive switch over the sealed {@link Op} for the forward
 * tasks and one for the vector-Jacobian products (no {@code default}: an engine op without a
 * TornadoVM lowering does not compile here). The lowerings read the op records' accessors.
 */
final class Lowerings {
    private Lowerings() {}

    /** Appends the tasks of one recorded op (a forward op, or a generated backward step). */
    static void lower(Op op, TaskSink s) {
        s.beginOp(op.name());
        forward(op, s);
    }

    private static void forward(Op op, TaskSink s) {
        switch (op) {
            case Matmul o -> LinearAlgebraLowering.matmul(o, s);
            case Attention o -> LinearAlgebraLowering.attention(o, s);
            case Add o -> PointwiseLowering.add(o, s);
            case Mul o -> PointwiseLowering.mul(o, s);
            case Scale o -> PointwiseLowering.scale(o, s);
            case Silu o -> PointwiseLowering.silu(o, s);
            case Gelu o -> PointwiseLowering.gelu(o, s);
            case GatedResidual o -> PointwiseLowering.gatedResidual(o, s);
            case Modulate o -> PointwiseLowering.modulate(o, s);
            case LayerNorm o -> RowLowering.layerNorm(o, s);
            case Softmax o -> RowLowering.softmax(o, s);
            case SoftmaxCrossEntropy o -> RowLowering.crossEntropy(o, s);
            case MseLoss o -> LossLowering.mse(o, s);
            case CosineAlignLoss o -> LossLowering.cosine(o, s);
            case NtXentLoss o -> LossLowering.ntxent(o, s);
            case Sum o -> LossLowering.sum(o, s);
            case Mean o -> LossLowering.mean(o, s);
            case L2Norm o -> LossLowering.l2norm(o, s);
            case Patchify o -> LayoutLowering.patchify(o, s, false);
            case Unpatchify o -> LayoutLowering.unpatchify(o, s, false);
            case Concat o -> LayoutLowering.concat(o, s, false);
            case Chunk o -> LayoutLowering.chunk(o, s, false);
            case Embedding o -> LayoutLowering.embedding(o, s);
            case Rope o -> LayoutLowering.rope(o, s);
            case TokenMean o -> LayoutLowering.tokenMean(o, s);
            case TimestepEmbedding o -> LayoutLowering.timestepEmbedding(o, s);
            case Conv2d o -> ImageLowering.conv2d(o, s);
            case GroupNorm o -> ImageLowering.groupNorm(o, s);
            case Upsample o -> ImageLowering.upsample(o, s);
            case AdamW o -> OptimizerLowering.adamw(o, s);
            case ClipGradNorm o -> OptimizerLowering.clipGradNorm(o, s);
            case EmaUpdate o -> OptimizerLowering.ema(o, s);
            case ZeroGrad o -> OptimizerLowering.zeroGrad(o, s);
            case SeedGrad o -> OptimizerLowering.seedGrad(o, s);
            case Randn o -> OptimizerLowering.randn(o, s);
            case LinearInterpolant o -> OptimizerLowering.linearInterpolant(o, s);
            case Graph.BackwardOf b -> backward(b, s);
        }
    }

    /** The backward of a forward op; accumulates into its inputs' gradients, or writes those the step overwrites, like the CPU's. */
    private static void backward(Graph.BackwardOf step, TaskSink s) {
        switch (step.forward()) {
            case Matmul o -> LinearAlgebraLowering.matmulBackward(o, step.overwrites(o.a()), step.overwrites(o.b()), s);
            case Attention o -> LinearAlgebraLowering.attentionBackward(o, step.overwrites(o.qkv()), s);
            case Add o -> PointwiseLowering.addBackward(o, s);
            case Mul o -> PointwiseLowering.mulBackward(o, s);
            case Scale o -> PointwiseLowering.scaleBackward(o, s);
            case Silu o -> PointwiseLowering.siluBackward(o, step.overwrites(o.x()), s);
            case Gelu o -> PointwiseLowering.geluBackward(o, step.overwrites(o.x()), s);
            case GatedResidual o -> PointwiseLowering.gatedResidualBackward(o, step.overwrites(o.x()), step.overwrites(o.h()), step.overwrites(o.gate()), s);
            case Modulate o -> PointwiseLowering.modulateBackward(o, step.overwrites(o.x()), step.overwrites(o.shift()), step.overwrites(o.scale()), s);
            case LayerNorm o -> RowLowering.layerNormBackward(o, s);
            case Softmax o -> RowLowering.softmaxBackward(o, s);
            case SoftmaxCrossEntropy o -> RowLowering.crossEntropyBackward(o, s);
            case MseLoss o -> LossLowering.mseBackward(o, s);
            case CosineAlignLoss o -> LossLowering.cosineBackward(o, s);
            case NtXentLoss o -> LossLowering.ntxentBackward(o, s);
            case Sum o -> LossLowering.sumBackward(o, s);
            case Mean o -> LossLowering.meanBackward(o, s);
            case L2Norm o -> LossLowering.l2normBackward(o, s);
            case Patchify o -> LayoutLowering.patchify(o, s, true);
            case Unpatchify o -> LayoutLowering.unpatchify(o, s, true);
            case Concat o -> LayoutLowering.concat(o, s, true);
            case Chunk o -> LayoutLowering.chunk(o, s, true);
            case Embedding o -> LayoutLowering.embeddingBackward(o, s);
            case Rope o -> LayoutLowering.ropeBackward(o, s);
            case TokenMean o -> LayoutLowering.tokenMeanBackward(o, s);
            case Conv2d o -> ImageLowering.conv2dBackward(o, s);
            case GroupNorm o -> ImageLowering.groupNormBackward(o, s);
            case Upsample o -> ImageLowering.upsampleBackward(o, s);
            // not differentiated: data preparation and optimizer steps
            case TimestepEmbedding _, AdamW _, ClipGradNorm _, EmaUpdate _, ZeroGrad _, Randn _, LinearInterpolant _ -> { }
            case SeedGrad _, Graph.BackwardOf _ -> throw new EngineException("TornadoVM backend: " + step.forward().type() + " '" + step.forward().name() + "' has no backward");
        }
    }
}
