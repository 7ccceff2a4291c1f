package erw.engine;

import erw.engine.ops.Add;
import erw.engine.ops.AdamW;
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
import java.util.List;

/**
 * One recorded operation, as data: its operand tensors, attributes and outputs (one record per
 * catalogue entry in {@code erw.engine.ops}, shapes checked in its constructor, so a graph that
 * records is a graph that runs). Kernels live in the backends, which switch exhaustively over this
 * sealed type: an op without a kernel on some backend does not compile there. A differentiable op's
 * backward reads its outputs' gradients and <em>accumulates</em> into its inputs' gradients; what its
 * forward keeps for the backward is in {@link #saved()} tensors ({@link Tensor.Kind#SAVED}).
 *
 * <p>{@link Graph.BackwardOf} is the step of a backward graph that runs a forward op's
 * vector-Jacobian product; backends dispatch it to their backward switch over the forward op.
 */
public sealed interface Op permits Matmul, Add, Mul, Scale, Silu, Gelu, GatedResidual, Modulate, LayerNorm, Softmax, Attention,
        Patchify, Unpatchify, Embedding, Concat, Chunk, MseLoss, CosineAlignLoss, NtXentLoss, Sum, Mean, L2Norm, TimestepEmbedding,
        Rope, TokenMean, SoftmaxCrossEntropy, Conv2d, GroupNorm, Upsample, AdamW, ClipGradNorm, EmaUpdate, ZeroGrad, SeedGrad, Randn, LinearInterpolant,
        Graph.BackwardOf {

    /** The op's label in errors and profiles, e.g. "blocks.3.attn.qkv". */
    String name();

    /** The catalogue entry in words, e.g. "matmul" (errors and profiles; backends dispatch on the type itself). */
    String type();

    List<Tensor> inputs();

    List<Tensor> outputs();

    /** Tensors the forward writes for the backward ({@link Tensor.Kind#SAVED}); none by default. */
    default List<Tensor> saved() {
        return List.of();
    }

    /** Whether the op has a vector-Jacobian product that propagates anything. */
    default boolean differentiable() {
        return true;
    }

    /** Floating-point operations of one forward run (for profiles; 0 if not counted). */
    default long flops() {
        return 0;
    }

    /** {@code type 'name' [inputs] -> [outputs]}, for messages. */
    static String describe(Op op) {
        return op.type() + " '" + op.name() + "' " + op.inputs() + " -> " + op.outputs();
    }
}
