package erw.engine;

import erw.engine.ops.Add;
import erw.engine.ops.Attention;
import erw.engine.ops.Chunk;
import erw.engine.ops.Concat;
import erw.engine.ops.Conv2d;
import erw.engine.ops.CosineAlignLoss;
import erw.engine.ops.Embedding;
import erw.engine.ops.GatedResidual;
import erw.engine.ops.Gelu;
import erw.engine.ops.GroupNorm;
import erw.engine.ops.L2Norm;
import erw.engine.ops.LayerNorm;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A recorded computation: ops appended in order over named tensors, compiled once by a
 * {@link Backend} and run many times. The record methods create the output tensors (shapes fixed
 * here) and check the inputs' shapes, so mistakes surface when recording, naming the op.
 *
 * <p>{@link #backward(Tensor)} generates the reverse graph from the forward one: zero the
 * activations' gradients, seed d(loss) = 1, then every differentiable op's vector-Jacobian product
 * in reverse order. Parameter gradients accumulate across backward runs until a {@code zero_grad}.
 */
public final class Graph {
    private final String name;
    private final boolean differentiable;
    private final List<Op> ops = new ArrayList<>();
    private final List<Segment> segments = new ArrayList<>();
    private List<Tensor> readBack;
    private int counter;
    private String openSegment;
    private int openFrom;
    private Precision precision = Precision.FP32;

    /**
     * A run of ops {@code [from, to)} that a backward pass may replay instead of keeping what they
     * produce (activation recomputation; a transformer block in SiT).
     */
    public record Segment(String name, int from, int to) {}

    public Graph(String name) {
        this(name, true);
    }

    /**
     * @param differentiable false for inference graphs (sampling, feature extraction): activations
     *                       get no gradient buffers, which halves their memory; no backward.
     */
    public Graph(String name, boolean differentiable) {
        this.name = name;
        this.differentiable = differentiable;
    }

    public static Graph inference(String name) {
        return new Graph(name, false);
    }

    public String name() {
        return name;
    }

    public List<Op> ops() {
        return Collections.unmodifiableList(ops);
    }

    /**
     * Declares the tensors the host reads after each run (losses, a sampler's velocity). A device
     * backend copies back only these and the {@link Tensor.Kind#SCALAR}/{@link Tensor.Kind#INPUT}
     * tensors the graph writes; everything else stays resident until {@link Backend#syncToHost}.
     * A graph that declares nothing has every tensor it writes copied back after each run
     * (correct, but slow on a device). The CPU backend's host arrays are always current.
     */
    public Graph readBack(Tensor... tensors) {
        readBack = List.of(tensors);
        return this;
    }

    /** The tensors declared by {@link #readBack(Tensor...)}, or null when the graph declared none. */
    public List<Tensor> declaredReadBack() {
        return readBack;
    }

    /** Appends an op built elsewhere (optimizer steps, data preparation, pruned copies of other graphs). */
    public <T extends Op> T add(T op) {
        ops.add(op);
        return op;
    }

    /** Appends every op of another graph (composition of recorded pieces), with its segments. */
    public Graph append(Graph other) {
        int shift = ops.size();
        for (Segment sg : other.segments) segments.add(new Segment(sg.name(), sg.from() + shift, sg.to() + shift));
        ops.addAll(other.ops);
        return this;
    }

    /** Whether a backward pass can be generated (false for graphs recorded for inference). */
    public boolean differentiable() {
        return differentiable;
    }

    /**
     * Starts a recompute segment: the ops recorded until {@link #endSegment()} may be replayed by
     * {@link #backward(Tensor, boolean)} instead of keeping their activations. Segments do not nest.
     */
    public void beginSegment(String segmentName) {
        if (openSegment != null) throw new EngineException("graph '" + name + "': segment '" + segmentName + "' begins inside segment '" + openSegment + "'");
        openSegment = segmentName;
        openFrom = ops.size();
    }

    public void endSegment() {
        if (openSegment == null) throw new EngineException("graph '" + name + "': endSegment() without beginSegment()");
        if (ops.size() > openFrom) segments.add(new Segment(openSegment, openFrom, ops.size()));
        openSegment = null;
    }

    /**
     * The number format of the operands of the matmuls and attentions recorded from now on (like a region under
     * PyTorch's autocast); fp32 until set. Their backward products use the same.
     */
    public Graph precision(Precision p) {
        if (p == null) throw new IllegalArgumentException("graph '" + name + "': no precision");
        precision = p;
        return this;
    }

    /** The precision of the next matmul or attention recorded. */
    public Precision precision() {
        return precision;
    }

    private String label(String opName, String type) {
        return opName != null ? opName : name + "." + type + (counter++);
    }

    private boolean anyGrad(Tensor... ts) {
        if (!differentiable) return false;
        for (Tensor t : ts) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    private static Tensor activation(String name, boolean grad, int... shape) {
        return Tensor.create(name, Tensor.Kind.ACTIVATION, grad, shape);
    }

    private static int[] withLast(Tensor x, int last) {
        int[] s = x.shape();
        if (s.length == 0) return new int[]{last};
        s[s.length - 1] = last;
        return s;
    }

    // ---- the catalogue ------------------------------------------------------------------------

    /** {@code op(A) op(B) [+ bias]} (matrices: leading dims collapsed into rows). */
    public Tensor matmul(String opName, Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias) {
        String l = label(opName, "matmul");
        int m = transA ? a.cols() : a.rows();
        int n = transB ? b.rows() : b.cols();
        int[] shape = !transA && a.rank() > 1 ? withLast(a, n) : new int[]{m, n};
        Tensor c = activation(l, anyGrad(a, b, bias), shape);
        return add(new Matmul(l, a, transA, b, transB, bias, c, precision)).outputs().get(0);
    }

    /** The Linear layer {@code x W^T + b}, W of shape (out, in). */
    public Tensor linear(String opName, Tensor x, Tensor weight, Tensor bias) {
        return matmul(opName, x, false, weight, true, bias);
    }

    public Tensor add(String opName, Tensor a, Tensor b) {
        String l = label(opName, "add");
        Tensor out = activation(l, anyGrad(a, b), a.shape());
        add(new Add(l, a, b, out));
        return out;
    }

    public Tensor mul(String opName, Tensor a, Tensor b) {
        String l = label(opName, "mul");
        Tensor out = activation(l, anyGrad(a, b), a.shape());
        add(new Mul(l, a, b, out));
        return out;
    }

    /** {@code alpha * x}. */
    public Tensor scale(String opName, Tensor x, float alpha) {
        return scale(opName, x, alpha, null);
    }

    /** {@code alpha * factor * x} with a step-varying one-element factor (read at run time). */
    public Tensor scale(String opName, Tensor x, float alpha, Tensor factor) {
        String l = label(opName, "scale");
        Tensor out = activation(l, anyGrad(x), x.shape());
        add(new Scale(l, x, alpha, factor, out));
        return out;
    }

    /** {@code x + gate * h}, gate (N, D) broadcast over the tokens of x (N*T, D). */
    public Tensor gatedResidual(String opName, Tensor x, Tensor gate, Tensor h) {
        String l = label(opName, "gated_residual");
        Tensor out = activation(l, anyGrad(x, gate, h), x.shape());
        add(new GatedResidual(l, x, gate, h, out));
        return out;
    }

    /** LayerNorm over the last dimension; weight and bias both null for no affine. */
    public Tensor layerNorm(String opName, Tensor x, Tensor weight, Tensor bias, float eps) {
        String l = label(opName, "layernorm");
        Tensor out = activation(l, anyGrad(x, weight, bias), x.shape());
        add(new LayerNorm(l, x, weight, bias, eps, out));
        return out;
    }

    /** {@code x * (1 + scale) + shift}, shift and scale (N, D) broadcast over tokens. */
    public Tensor modulate(String opName, Tensor x, Tensor shift, Tensor scale) {
        String l = label(opName, "modulate");
        Tensor out = activation(l, anyGrad(x, shift, scale), x.shape());
        add(new Modulate(l, x, shift, scale, out));
        return out;
    }

    public Tensor silu(String opName, Tensor x) {
        String l = label(opName, "silu");
        Tensor out = activation(l, anyGrad(x), x.shape());
        add(new Silu(l, x, out));
        return out;
    }

    public Tensor gelu(String opName, Tensor x) {
        String l = label(opName, "gelu");
        Tensor out = activation(l, anyGrad(x), x.shape());
        add(new Gelu(l, x, out));
        return out;
    }

    public Tensor softmax(String opName, Tensor x) {
        String l = label(opName, "softmax");
        Tensor out = activation(l, anyGrad(x), x.shape());
        add(new Softmax(l, x, out));
        return out;
    }

    /** Fused multi-head attention on packed qkv (N*T, 3D) laid out (N, T, 3, h, d); returns (N*T, D). */
    public Tensor attention(String opName, Tensor qkv, int batch, int heads) {
        String l = label(opName, "attention");
        Tensor out = activation(l, anyGrad(qkv), qkv.rows(), qkv.cols() / 3);
        add(new Attention(l, qkv, batch, heads, out, precision));
        return out;
    }

    /** (N, C, H, W) to tokens (N*T, C*p*p). */
    public Tensor patchify(String opName, Tensor images, int batch, int channels, int height, int width, int patch) {
        String l = label(opName, "patchify");
        if (patch < 1 || height % patch != 0 || width % patch != 0) {
            throw new EngineException("patchify '" + l + "': image " + height + "x" + width + " is not divisible by patch " + patch);
        }
        int tokens = (height / patch) * (width / patch);
        Tensor out = activation(l, anyGrad(images), batch * tokens, channels * patch * patch);
        add(new Patchify(l, images, out, batch, channels, height, width, patch));
        return out;
    }

    /** Tokens (N*T, p*p*C) ordered (i, j, c) to (N, C, H, W). */
    public Tensor unpatchify(String opName, Tensor tokens, int batch, int channels, int height, int width, int patch) {
        String l = label(opName, "unpatchify");
        Tensor out = activation(l, anyGrad(tokens), batch, channels, height, width);
        add(new Unpatchify(l, tokens, out, batch, channels, height, width, patch));
        return out;
    }

    /**
     * 2-D convolution of (N, C, H, W) with a (K, C, kh, kw) weight and optional bias (K), stride and
     * zero padding per side (top, left, bottom, right); returns (N, K, Ho, Wo).
     */
    public Tensor conv2d(String opName, Tensor x, Tensor weight, Tensor bias, int stride, int padTop, int padLeft, int padBottom, int padRight) {
        String l = label(opName, "conv2d");
        if (x.rank() != 4 || weight.rank() != 4) throw new EngineException("conv2d '" + l + "': input must be (N, C, H, W) and weight (K, C, kh, kw), got " + x.shapeString() + " and " + weight.shapeString());
        int ho = Conv2d.outSize(x.dim(2), weight.dim(2), stride, padTop, padBottom), wo = Conv2d.outSize(x.dim(3), weight.dim(3), stride, padLeft, padRight);
        Tensor out = activation(l, anyGrad(x, weight, bias), x.dim(0), weight.dim(0), Math.max(ho, 1), Math.max(wo, 1));
        add(new Conv2d(l, x, weight, bias, out, stride, padTop, padLeft, padBottom, padRight));
        return out;
    }

    /** {@code nn.Conv2d(C, K, k, stride, padding)}: the same zero padding on every side. */
    public Tensor conv2d(String opName, Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
        return conv2d(opName, x, weight, bias, stride, padding, padding, padding, padding);
    }

    /** GroupNorm of (N, C, ...) over groups of C/groups channels; weight and bias (C) both null for no affine. */
    public Tensor groupNorm(String opName, Tensor x, int groups, Tensor weight, Tensor bias, float eps) {
        String l = label(opName, "groupnorm");
        Tensor out = activation(l, anyGrad(x, weight, bias), x.shape());
        add(new GroupNorm(l, x, groups, weight, bias, eps, out));
        return out;
    }

    /** Nearest-neighbour upsampling of (N, C, H, W) by an integer factor. */
    public Tensor upsample(String opName, Tensor x, int factor) {
        String l = label(opName, "upsample");
        if (x.rank() != 4) throw new EngineException("upsample '" + l + "': input must be (N, C, H, W), got " + x.shapeString());
        Tensor out = activation(l, anyGrad(x), x.dim(0), x.dim(1), factor * x.dim(2), factor * x.dim(3));
        add(new Upsample(l, x, factor, out));
        return out;
    }

    /** Rows of {@code table} picked by the integer values of {@code index}. */
    public Tensor embedding(String opName, Tensor table, Tensor index) {
        String l = label(opName, "embedding");
        Tensor out = activation(l, anyGrad(table), index.size(), table.cols());
        add(new Embedding(l, table, index, out));
        return out;
    }

    /** Concatenation along the last axis. */
    public Tensor concat(String opName, List<Tensor> parts) {
        String l = label(opName, "concat");
        if (parts.isEmpty()) throw new EngineException("concat '" + l + "': no parts");
        int w = 0;
        for (Tensor p : parts) w += p.cols();
        Tensor out = activation(l, anyGrad(parts.toArray(new Tensor[0])), withLast(parts.get(0), w));
        add(new Concat(l, parts, out));
        return out;
    }

    /** Splits the last axis into {@code chunks} equal parts. */
    public List<Tensor> chunk(String opName, Tensor x, int chunks) {
        String l = label(opName, "chunk");
        if (chunks < 1 || x.cols() % chunks != 0) {
            throw new EngineException("chunk '" + l + "': last dimension of " + x + " is not divisible into " + chunks + " chunks");
        }
        List<Tensor> parts = new ArrayList<>();
        for (int i = 0; i < chunks; i++) parts.add(activation(l + "." + i, anyGrad(x), withLast(x, x.cols() / chunks)));
        add(new Chunk(l, parts, x));
        return parts;
    }

    public Tensor mse(String opName, Tensor pred, Tensor target) {
        String l = label(opName, "mse");
        Tensor out = activation(l, anyGrad(pred, target), 1);
        add(new MseLoss(l, pred, target, out));
        return out;
    }

    /** REPA's negative mean cosine similarity between token rows. */
    public Tensor cosineAlign(String opName, Tensor z, Tensor target) {
        return cosineAlign(opName, z, target, null);
    }

    /** As above with per-sample weights (N) (null = unweighted): {@code mean_n[w_n * align_n]}. */
    public Tensor cosineAlign(String opName, Tensor z, Tensor target, Tensor weights) {
        String l = label(opName, "cosine_align");
        Tensor out = activation(l, anyGrad(z), 1);
        add(new CosineAlignLoss(l, z, target, weights, out));
        return out;
    }

    /** NT-Xent alignment with in-batch negatives per token position. */
    public Tensor ntXentAlign(String opName, Tensor z, Tensor target, int batch, float tau, boolean symmetric) {
        String l = label(opName, "ntxent_align");
        Tensor out = activation(l, anyGrad(z), 1);
        add(new NtXentLoss(l, z, target, batch, tau, symmetric, out));
        return out;
    }

    public Tensor sum(String opName, Tensor x) {
        String l = label(opName, "sum");
        Tensor out = activation(l, anyGrad(x), 1);
        add(new Sum(l, x, out));
        return out;
    }

    public Tensor mean(String opName, Tensor x) {
        String l = label(opName, "mean");
        Tensor out = activation(l, anyGrad(x), 1);
        add(new Mean(l, x, out));
        return out;
    }

    /** sqrt of the sum of squares over all the given tensors. */
    public Tensor l2norm(String opName, List<Tensor> xs) {
        String l = label(opName, "l2norm");
        Tensor out = activation(l, anyGrad(xs.toArray(new Tensor[0])), 1);
        add(new L2Norm(l, xs, out));
        return out;
    }

    /** Sinusoidal features of t (N) into (N, dim). */
    public Tensor timestepEmbedding(String opName, Tensor t, int dim) {
        String l = label(opName, "timestep_embedding");
        Tensor out = activation(l, false, t.size(), dim);
        add(new TimestepEmbedding(l, t, dim, out));
        return out;
    }

    /** Rotary position embedding on the q and k parts of packed qkv (N*T, 3D); tables (T, d). */
    public Tensor rope(String opName, Tensor qkv, Tensor cos, Tensor sin, int batch, int heads) {
        String l = label(opName, "rope");
        Tensor out = activation(l, anyGrad(qkv), qkv.shape());
        add(new Rope(l, qkv, cos, sin, batch, heads, out));
        return out;
    }

    /** Mean over each sample's tokens: (N*T, D) to (N, D). */
    public Tensor tokenMean(String opName, Tensor x, int batch) {
        String l = label(opName, "token_mean");
        Tensor out = activation(l, anyGrad(x), batch, x.cols());
        add(new TokenMean(l, x, batch, out));
        return out;
    }

    /** Mean softmax cross-entropy of logits (N, K) against integer labels (N). */
    public Tensor crossEntropy(String opName, Tensor logits, Tensor labels) {
        String l = label(opName, "softmax_cross_entropy");
        Tensor out = activation(l, anyGrad(logits), 1);
        add(new SoftmaxCrossEntropy(l, logits, labels, out));
        return out;
    }

    // ---- reverse mode --------------------------------------------------------------------------

    /** Every tensor produced by an op of this graph, in order of creation. */
    public Set<Tensor> producedTensors() {
        Set<Tensor> out = new LinkedHashSet<>();
        for (Op op : ops) out.addAll(op.outputs());
        return out;
    }

    /**
     * The backward graph of {@code loss} (a one-element tensor produced here): zeroes the gradients
     * of this graph's activations, seeds d(loss)/d(loss) = 1 and runs each op's vector-Jacobian
     * product in reverse order. Gradients of parameters and inputs accumulate.
     */
    public Graph backward(Tensor loss) {
        return backward(loss, false);
    }

    /**
     * As {@link #backward(Tensor)}; with {@code recompute}, each {@link Segment}'s forward ops are
     * replayed just before the first vector-Jacobian product of the segment, so that what they
     * produced need not outlive the forward pass (a {@link BufferPlanner} then reuses that memory).
     * The replay writes the same bits into the same tensors, so gradients are bit-identical.
     */
    public Graph backward(Tensor loss, boolean recompute) {
        if (!differentiable) throw new EngineException("backward of graph '" + name + "': it was recorded for inference");
        if (loss.size() != 1) throw new EngineException("backward of graph '" + name + "': loss " + loss + " is not a scalar");
        if (!loss.requiresGrad()) throw new EngineException("backward of graph '" + name + "': loss " + loss + " does not depend on anything that requires a gradient");
        Set<Tensor> produced = producedTensors();
        if (!produced.contains(loss)) throw new EngineException("backward of graph '" + name + "': loss " + loss + " is not produced by this graph");
        Graph g = new Graph(name + ".backward");
        List<Tensor> activations = new ArrayList<>();
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        for (Tensor t : produced) {
            if (t.requiresGrad() && t.kind() == Tensor.Kind.ACTIVATION && seen.put(t.root(), Boolean.TRUE) == null) activations.add(t);
        }
        List<Op> sweep = new ArrayList<>();
        List<Integer> sweepIndex = new ArrayList<>();
        for (int i = ops.size() - 1; i >= 0; i--) {
            Op op = ops.get(i);
            if (!op.differentiable()) continue;
            boolean any = false;
            for (Tensor t : op.inputs()) any |= t.requiresGrad();
            if (any) {
                sweep.add(op);
                sweepIndex.add(i);
            }
        }
        if (openSegment != null) throw new EngineException("backward of graph '" + name + "': segment '" + openSegment + "' was never ended");
        // replay.get(j): the segment whose forward runs just before sweep step j (its first VJP)
        List<Segment> replay = new ArrayList<>();
        for (int j = 0; j < sweep.size(); j++) replay.add(null);
        if (recompute) {
            for (Segment sg : segments) {
                for (int k = sg.from(); k < sg.to(); k++) {
                    if (ops.get(k) instanceof Randn) throw new EngineException("backward of graph '" + name + "': segment '" + sg.name() + "' draws noise (" + ops.get(k).name() + ") and cannot be replayed");
                }
                for (int j = 0; j < sweep.size(); j++) {
                    int i = sweepIndex.get(j);
                    if (i >= sg.from() && i < sg.to()) {
                        replay.set(j, sg);
                        break;
                    }
                }
            }
        }
        // Each activation gradient is zeroed just before the first VJP that accumulates into it,
        // so the zeroed buffer is still in cache when it is written (one pass over all of them up
        // front went to memory and back). Gradients no VJP touches are zeroed first.
        Map<Tensor, Integer> firstWriter = new IdentityHashMap<>();
        for (int j = 0; j < sweep.size(); j++) {
            for (Tensor t : sweep.get(j).inputs()) if (t.requiresGrad()) firstWriter.putIfAbsent(t.root(), j);
        }
        List<List<Tensor>> zeroBefore = new ArrayList<>();
        for (int j = 0; j < sweep.size(); j++) zeroBefore.add(new ArrayList<>());
        List<Tensor> untouched = new ArrayList<>();
        // overwrite.get(j): gradients that VJP j writes whole instead of accumulating (first writes; no zeroing)
        List<List<Tensor>> overwrite = new ArrayList<>();
        for (int j = 0; j < sweep.size(); j++) overwrite.add(new ArrayList<>());
        for (Tensor t : activations) {
            Integer j = firstWriter.get(t.root());
            if (j == null) untouched.add(t);
            else if (writesWholeGradient(sweep.get(j), t)) overwrite.get(j).add(t);
            else zeroBefore.get(j).add(t);
        }
        g.add(new ZeroGrad(name + ".zero_activation_grads", untouched));
        g.add(new SeedGrad(name + ".seed", loss));
        for (int j = 0; j < sweep.size(); j++) {
            Op op = sweep.get(j);
            Segment sg = replay.get(j);
            if (sg != null) {
                for (int k = sg.from(); k < sg.to(); k++) g.add(ops.get(k));
            }
            if (!zeroBefore.get(j).isEmpty()) g.add(new ZeroGrad(op.name() + ".zero_input_grads", zeroBefore.get(j)));
            g.add(new BackwardOf(op, List.copyOf(overwrite.get(j))));
        }
        return g;
    }

    /**
     * Whether the VJP of {@code op} can write the whole gradient of its input {@code t} instead of adding to
     * it, when it is that gradient's first writer: a matmul's operand gradient is one GEMM product over the
     * operand's whole array (started from zero rather than from the zeroed array: the same bits), unless
     * both operands are the same array; GELU's and SiLU's input gradients, a gated residual's x and h and the
     * adaLN modulation's x gradients are elementwise, and attention writes each (sample, head)'s q, k and v
     * columns once (all added to zero, not to a zeroed array). Token sums (gates, shifts, scales) and every
     * other VJP accumulate. Every backend honours it ({@link BackwardOf#overwrites}).
     */
    static boolean writesWholeGradient(Op op, Tensor t) {
        if (t.size() != t.root().size()) return false;
        return switch (op) {
            case Matmul m -> (t == m.a() || t == m.b()) && m.a().root() != m.b().root();
            case Gelu g -> t == g.x(); // elementwise: every element of the input's gradient written once
            case Silu s -> t == s.x();
            case GatedResidual r -> (t == r.x() || t == r.h()) && r.x().root() != r.h().root()
                    || t == r.gate() && r.gate().root() != r.x().root() && r.gate().root() != r.h().root(); // a sum over tokens per (sample, column)
            case Attention a -> t == a.qkv(); // each (sample, head) writes its own q, k and v columns once
            case Modulate m -> (t == m.x() || t == m.shift() || t == m.scale()) // shift and scale: sums over tokens (adaLN's chunks)
                    && m.x().root() != m.shift().root() && m.x().root() != m.scale().root() && m.shift().root() != m.scale().root();
            default -> false; // every other VJP adds into a zeroed gradient (always correct)
        };
    }

    /**
     * A step of a backward graph: the vector-Jacobian product of a forward op. Backends run it with
     * their backward switch over the forward op; it has no kernel of its own. {@code overwrite}: inputs
     * whose gradient this step writes whole rather than accumulates into (their first write in the sweep,
     * so nothing zeroes them first; see {@link Graph#writesWholeGradient}).
     */
    public record BackwardOf(Op forward, List<Tensor> overwrite) implements Op {
        public BackwardOf(Op forward) {
            this(forward, List.of());
        }

        /** Whether this step writes {@code t}'s gradient whole (identity: the op's own operand). */
        public boolean overwrites(Tensor t) {
            for (Tensor o : overwrite) if (o == t) return true;
            return false;
        }

        @Override public String name() { return forward.name() + ".backward"; }
        @Override public String type() { return forward.type() + "_backward"; }
        @Override public List<Tensor> inputs() { return forward.outputs(); }
        @Override public List<Tensor> outputs() { return forward.inputs(); }
        @Override public boolean differentiable() { return false; }
        @Override public long flops() { return 2 * forward.flops(); }
    }
}
