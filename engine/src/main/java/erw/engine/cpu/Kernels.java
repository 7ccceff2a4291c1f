package erw.engine.cpu;

import erw.engine.EngineException;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.host.WorkerPool;
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
 * The CPU backend's dispatch: one exhaustive switch over the sealed {@link Op} for the forward
 * kernels and one for the vector-Jacobian products (no {@code default}: an op without a CPU kernel
 * does not compile). The kernels are functions of the op record and the worker pool, forward and
 * backward side by side in one class per family.
 */
public final class Kernels {
    private Kernels() {}

    /** Runs one recorded op (a generated backward step runs the forward op's vector-Jacobian product). */
    public static void forward(Op op, WorkerPool pool) {
        switch (op) {
            case Matmul o -> LinearAlgebraKernels.matmulForward(o, pool);
            case Attention o -> LinearAlgebraKernels.attentionForward(o, pool);
            case Add o -> PointwiseKernels.addForward(o, pool);
            case Mul o -> PointwiseKernels.mulForward(o, pool);
            case Scale o -> PointwiseKernels.scaleForward(o, pool);
            case Silu o -> PointwiseKernels.siluForward(o, pool);
            case Gelu o -> PointwiseKernels.geluForward(o, pool);
            case GatedResidual o -> PointwiseKernels.gatedResidualForward(o, pool);
            case Modulate o -> PointwiseKernels.modulateForward(o, pool);
            case LayerNorm o -> RowKernels.layerNormForward(o, pool);
            case Softmax o -> RowKernels.softmaxForward(o, pool);
            case SoftmaxCrossEntropy o -> RowKernels.crossEntropyForward(o, pool);
            case MseLoss o -> LossKernels.mseForward(o, pool);
            case CosineAlignLoss o -> LossKernels.cosineForward(o, pool);
            case NtXentLoss o -> LossKernels.ntxentForward(o, pool);
            case Sum o -> LossKernels.sumForward(o, pool);
            case Mean o -> LossKernels.meanForward(o, pool);
            case L2Norm o -> LossKernels.l2normForward(o, pool);
            case Patchify o -> LayoutKernels.patchifyForward(o, pool);
            case Unpatchify o -> LayoutKernels.unpatchifyForward(o, pool);
            case Concat o -> LayoutKernels.concatForward(o, pool);
            case Chunk o -> LayoutKernels.chunkForward(o, pool);
            case Embedding o -> LayoutKernels.embeddingForward(o, pool);
            case Rope o -> LayoutKernels.ropeForward(o, pool);
            case TokenMean o -> LayoutKernels.tokenMeanForward(o, pool);
            case TimestepEmbedding o -> LayoutKernels.timestepEmbeddingForward(o, pool);
            case Conv2d o -> ConvKernels.conv2dForward(o, pool);
            case GroupNorm o -> ConvKernels.groupNormForward(o, pool);
            case Upsample o -> ConvKernels.upsampleForward(o, pool);
            case AdamW o -> OptimizerKernels.adamw(o, pool);
            case ClipGradNorm o -> OptimizerKernels.clipGradNorm(o, pool);
            case EmaUpdate o -> OptimizerKernels.ema(o, pool);
            case ZeroGrad o -> OptimizerKernels.zeroGrad(o, pool);
            case SeedGrad o -> OptimizerKernels.seedGrad(o, pool);
            case Randn o -> OptimizerKernels.randn(o, pool);
            case LinearInterpolant o -> OptimizerKernels.linearInterpolant(o, pool);
            case Graph.BackwardOf b -> backward(b, pool);
        }
    }

    /**
     * The vector-Jacobian product of a forward op: accumulates its inputs' gradients from its outputs'
     * gradients, or writes those the step {@link Graph.BackwardOf#overwrites overwrites}.
     */
    public static void backward(Graph.BackwardOf step, WorkerPool pool) {
        switch (step.forward()) {
            case Matmul o -> LinearAlgebraKernels.matmulBackward(o, step.overwrites(o.a()), step.overwrites(o.b()), pool);
            case Attention o -> LinearAlgebraKernels.attentionBackward(o, step.overwrites(o.qkv()), pool);
            case Add o -> PointwiseKernels.addBackward(o, pool);
            case Mul o -> PointwiseKernels.mulBackward(o, pool);
            case Scale o -> PointwiseKernels.scaleBackward(o, pool);
            case Silu o -> PointwiseKernels.siluBackward(o, step.overwrites(o.x()), pool);
            case Gelu o -> PointwiseKernels.geluBackward(o, step.overwrites(o.x()), pool);
            case GatedResidual o -> PointwiseKernels.gatedResidualBackward(o, step.overwrites(o.x()), step.overwrites(o.h()), step.overwrites(o.gate()), pool);
            case Modulate o -> PointwiseKernels.modulateBackward(o, step.overwrites(o.x()), step.overwrites(o.shift()), step.overwrites(o.scale()), pool);
            case LayerNorm o -> RowKernels.layerNormBackward(o, pool);
            case Softmax o -> RowKernels.softmaxBackward(o, pool);
            case SoftmaxCrossEntropy o -> RowKernels.crossEntropyBackward(o, pool);
            case MseLoss o -> LossKernels.mseBackward(o, pool);
            case CosineAlignLoss o -> LossKernels.cosineBackward(o, pool);
            case NtXentLoss o -> LossKernels.ntxentBackward(o, pool);
            case Sum o -> LossKernels.sumBackward(o, pool);
            case Mean o -> LossKernels.meanBackward(o, pool);
            case L2Norm o -> LossKernels.l2normBackward(o, pool);
            case Patchify o -> LayoutKernels.patchifyBackward(o, pool);
            case Unpatchify o -> LayoutKernels.unpatchifyBackward(o, pool);
            case Concat o -> LayoutKernels.concatBackward(o, pool);
            case Chunk o -> LayoutKernels.chunkBackward(o, pool);
            case Embedding o -> LayoutKernels.embeddingBackward(o, pool);
            case Rope o -> LayoutKernels.ropeBackward(o, pool);
            case TokenMean o -> LayoutKernels.tokenMeanBackward(o, pool);
            case Conv2d o -> ConvKernels.conv2dBackward(o, pool);
            case GroupNorm o -> ConvKernels.groupNormBackward(o, pool);
            case Upsample o -> ConvKernels.upsampleBackward(o, pool);
            // not differentiated: data preparation and optimizer steps
            case TimestepEmbedding _, AdamW _, ClipGradNorm _, EmaUpdate _, ZeroGrad _, Randn _, LinearInterpolant _ -> { }
            case SeedGrad _, Graph.BackwardOf _ -> throw new EngineException(step.forward().type() + " '" + step.forward().name() + "' has no backward");
        }
    }
}
