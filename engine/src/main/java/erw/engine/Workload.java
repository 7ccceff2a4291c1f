package erw.engine;

import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.ZeroGrad;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The arithmetic and memory traffic of recorded graphs, per op type: what a roofline estimate of a
 * device needs. GEMM-shaped ops (matmul, attention, conv2d and their backward) are the ones a GPU runs
 * on tensor cores; the rest move memory.
 *
 * <p>Bytes are what an op reads and writes in device memory with no reuse between ops (no fusion):
 * each distinct tensor once, activations, their gradients, inputs and saved values at
 * {@code activationBytes} per element (4 in fp32, 2 where bf16 activations are kept as PyTorch autocast
 * keeps them), parameters, their gradients and optimizer state at 4 (fp32 master copies). A backward op
 * reads its forward's inputs, saved values and outputs' gradients and writes its inputs' gradients
 * (reading them first where it adds to them). The optimizer ops count per parameter: AdamW 28 bytes
 * (reads weight, gradient, two moments; writes weight, two moments), the gradient-norm clip 12 (a norm
 * pass, then a scaling pass), EMA 12, zeroing 4.
 */
public final class Workload {
    private Workload() {}

    /** One op type's total over the graphs: how many ops, their flops and bytes, and whether they are GEMM-shaped. */
    public record Row(String type, boolean gemm, int count, long flops, long bytes) {}

    private static final Set<String> GEMM = Set.of("matmul", "attention", "conv2d");

    /** Per op type in order of first appearance. */
    public static List<Row> of(List<Graph> graphs, int activationBytes) {
        Map<String, long[]> acc = new LinkedHashMap<>();
        for (Graph g : graphs) {
            for (Op op : g.ops()) {
                long[] a = acc.computeIfAbsent(op.type(), k -> new long[3]);
                a[0]++;
                a[1] += op.flops();
                a[2] += bytes(op, activationBytes);
            }
        }
        List<Row> rows = new ArrayList<>();
        acc.forEach((type, a) -> rows.add(new Row(type, GEMM.contains(type.replace("_backward", "")), (int) a[0], a[1], a[2])));
        return rows;
    }

    static long bytes(Op op, int activationBytes) {
        return switch (op) {
            case AdamW a -> 28 * elements(a.params());
            case ClipGradNorm c -> 12 * elements(c.params());
            case EmaUpdate e -> 12 * elements(e.params());
            case ZeroGrad z -> 4 * elements(z.tensors());
            case Graph.BackwardOf b -> {
                Op f = b.forward();
                long n = values(f.inputs(), activationBytes) + values(f.saved(), activationBytes) + values(f.outputs(), activationBytes); // output grads
                for (Tensor t : distinct(f.inputs())) {
                    if (!t.requiresGrad()) continue;
                    n += (b.overwrites(t) ? 1 : 2) * (long) t.size() * width(t, activationBytes);
                }
                yield n;
            }
            default -> values(op.inputs(), activationBytes) + values(op.outputs(), activationBytes) + values(op.saved(), activationBytes);
        };
    }

    private static long values(List<Tensor> ts, int activationBytes) {
        long n = 0;
        for (Tensor t : distinct(ts)) n += (long) t.size() * width(t, activationBytes);
        return n;
    }

    private static int width(Tensor t, int activationBytes) {
        return switch (t.root().kind()) {
            case PARAM, STATE, SCALAR -> 4;
            case INPUT, ACTIVATION, SAVED -> activationBytes;
        };
    }

    private static long elements(List<Tensor> ts) {
        long n = 0;
        for (Tensor t : distinct(ts)) n += t.size();
        return n;
    }

    private static List<Tensor> distinct(List<Tensor> ts) {
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : ts) if (seen.add(t)) out.add(t);
        return out;
    }
}
