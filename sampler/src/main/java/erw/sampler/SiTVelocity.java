package erw.sampler;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Plan;
import erw.engine.Precision;
import erw.engine.Tensor;
import erw.model.SiT;
import erw.model.SiTConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link SiT} as a {@link VelocityField}: for each batch size it is called with (N rows, or 2N
 * with guidance) the model is recorded once into a graph, cut down to the ops the velocity needs
 * (the projector is dropped), compiled, and then run once per sampler step with x, t and y written
 * into its input tensors. Parameters are shared with the model, not copied.
 */
public final class SiTVelocity implements VelocityField, AutoCloseable {
    private final SiT model;
    private final Backend backend;
    private final Precision precision;
    private final int sampleSize;
    private final Map<Integer, Recorded> graphs = new LinkedHashMap<>();
    private long rowsEvaluated;
    private int runs;

    private record Recorded(Plan plan, Tensor x, Tensor t, Tensor y, Tensor v, int ops) {}

    public SiTVelocity(SiT model, Backend backend) {
        this(model, backend, Precision.FP32);
    }

    /** With the model's GEMM operands in {@code precision} (see {@link Precision}). */
    public SiTVelocity(SiT model, Backend backend, Precision precision) {
        SiTConfig c = model.config();
        if (c.truncated()) throw new IllegalArgumentException("the ERW warmup model (truncated to " + c.truncatedDepth() + " blocks) has no velocity head: sample from a full-model checkpoint");
        this.model = model;
        this.backend = backend;
        this.precision = precision;
        this.sampleSize = c.inChannels() * c.inputSize() * c.inputSize();
    }

    public SiT model() {
        return model;
    }

    /** Values per sample, C*H*W. */
    public int sampleSize() {
        return sampleSize;
    }

    @Override
    public int nullClass() {
        return model.config().numClasses();
    }

    /** Rows evaluated so far (all calls). */
    public long rowsEvaluated() {
        return rowsEvaluated;
    }

    /** Graph runs so far. */
    public int runs() {
        return runs;
    }

    /** Batch sizes recorded so far. */
    public Set<Integer> recordedBatchSizes() {
        return Collections.unmodifiableSet(graphs.keySet());
    }

    /** Ops in the recorded graph of a batch size (after pruning), or -1 if not recorded. */
    public int opCount(int rows) {
        Recorded r = graphs.get(rows);
        return r == null ? -1 : r.ops();
    }

    /** Records, prunes and compiles the graph for {@code rows} rows now (otherwise done on first use). */
    public void prepare(int rows) {
        graphs.computeIfAbsent(rows, this::record);
    }

    private Recorded record(int rows) {
        SiTConfig c = model.config();
        int side = c.inputSize();
        Tensor x = Tensor.input("x", rows, c.inChannels(), side, side);
        Tensor t = Tensor.input("t", rows);
        Tensor y = Tensor.input("y", rows);
        Graph g = Graph.inference("sample_step_b" + rows).precision(precision);
        SiT.Outputs o = model.forward(g, x, t, y);
        Graph pruned = prune(g, o.velocity(), "sample_step_b" + rows);
        return new Recorded(backend.compile(pruned.readBack(o.velocity())), x, t, y, o.velocity(), pruned.ops().size());
    }

    /** The ops of {@code g} that {@code output} depends on, in recorded order (dead-code elimination on tensor roots). */
    static Graph prune(Graph g, Tensor output, String name) {
        List<Op> ops = g.ops();
        Set<Tensor> needed = new HashSet<>();
        needed.add(output.root());
        boolean[] keep = new boolean[ops.size()];
        for (int i = ops.size() - 1; i >= 0; i--) {
            Op op = ops.get(i);
            boolean k = false;
            for (Tensor out : op.outputs()) if (needed.contains(out.root())) k = true;
            if (!k) continue;
            keep[i] = true;
            for (Tensor in : op.inputs()) needed.add(in.root());
        }
        Graph p = new Graph(name);
        List<Op> kept = new ArrayList<>();
        for (int i = 0; i < ops.size(); i++) if (keep[i]) kept.add(ops.get(i));
        kept.forEach(p::add);
        return p;
    }

    @Override
    public void velocity(float[] x, double t, float[] labels, float[] out) {
        int rows = labels.length;
        if (rows == 0) return;
        if (x.length != rows * sampleSize || out.length != x.length) {
            throw new IllegalArgumentException("velocity: " + rows + " rows of " + sampleSize + " values expected, got x " + x.length + ", out " + out.length);
        }
        int numClasses = model.config().numClasses();
        for (float l : labels) {
            if (!(l >= 0 && l <= numClasses) || l != Math.rint(l)) {
                throw new IllegalArgumentException("class id " + l + " out of range [0, " + numClasses + "] (" + numClasses + " = null class)");
            }
        }
        Recorded r = graphs.computeIfAbsent(rows, this::record);
        System.arraycopy(x, 0, r.x().data(), 0, x.length);
        java.util.Arrays.fill(r.t().data(), (float) t);
        System.arraycopy(labels, 0, r.y().data(), 0, rows);
        r.plan().run();
        System.arraycopy(r.v().data(), 0, out, 0, out.length);
        rowsEvaluated += rows;
        runs++;
    }

    /** Drops the recorded graphs (their activations become garbage). */
    @Override
    public void close() {
        graphs.values().forEach(r -> r.plan().close());
        graphs.clear();
    }
}
