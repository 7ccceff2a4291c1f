package erw.engine;

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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Storage for the tensors of a compiled plan, by liveness: the activations, saved statistics and
 * activation gradients whose values never outlive one run of the plan share arrays when their
 * lifetimes do not overlap. Both backends call it when they compile (the TornadoVM backend keys its
 * device buffers by {@link Tensor.Storage}, so sharing a storage shares the device buffer; the shared
 * host array is made only if the host uses it).
 *
 * <p>Guarantees:
 * <ul>
 *   <li>Only {@link Tensor.Kind#ACTIVATION} and {@link Tensor.Kind#SAVED} storage is shared, and
 *   only storage whose first access in the plan is a full write (so no value crosses runs); the
 *   tensors a graph {@linkplain Graph#readBack declares} keep their own arrays, and a graph that
 *   declares none keeps every array it touches private.</li>
 *   <li>A tensor gets storage once and keeps it; a plan compiled later that would break an earlier
 *   plan's sharing (reads a shared array it did not write, or needs two of its tenants at once)
 *   is refused with a message naming both tensors.</li>
 *   <li>Arrays are shared only between tensors of <em>equal</em> size: every kernel on both
 *   backends takes the extent of a buffer from its array (the CPU's {@code float[]}, TornadoVM's
 *   {@code FloatArray}), so an array larger than its tensor would be read past the tensor's end.
 *   Transformer activations come in a handful of sizes, so little is lost: SiT-S/2's step at batch
 *   8 plans 20 arrays of 7 sizes.</li>
 *   <li>Sharing changes no bits: every kernel fully overwrites its outputs, gradients are zeroed
 *   (a full write) before their first accumulation.</li>
 * </ul>
 *
 * <p>Lifetimes: the plan's ops are numbered in order (the graphs of a cycle one after another). A
 * value lives from the op that writes it to the last op that reads it; a tensor written again (a
 * replayed segment, see {@link Graph#backward(Tensor, boolean)}) has one interval per value, and
 * its array is free between them. Tensors are placed largest first (then by first use), each into
 * the first existing array of its size free at all its intervals, else a new one (greedy by size,
 * as in TensorFlow Lite's arena planner).
 */
public final class BufferPlanner {
    /** -Derw.memory.plan=false: every tensor its own array (the control every plan is tested against). */
    private static volatile boolean enabled = !"false".equals(System.getProperty("erw.memory.plan"));

    private BufferPlanner() {}

    /** Turns sharing on or off for plans compiled from now on (tests compare both). */
    public static void setEnabled(boolean on) {
        enabled = on;
    }

    /** Shared arrays: one array of {@code size} floats and the storages bound to it. */
    public static final class Slot {
        final int size;
        final String plan;
        final List<Store> tenants = new ArrayList<>();

        Slot(int size, String plan) {
            this.size = size;
            this.plan = plan;
        }
    }

    /** A root tensor's data or gradient. */
    private record Store(Tensor root, boolean gradient) {
        String describe() {
            return (gradient ? "the gradient of " : "") + "'" + root.name() + "'";
        }
    }

    /** What {@link #analyze} found: bytes by category, for {@code erw model} and the benchmarks. */
    public record Summary(String plan, long sharedBytes, int sharedArrays, int sharedTensors, long privateBytes, int privateTensors,
                          long unsharedBytes) {
        /** Bytes of the plan's activations, saved statistics and activation gradients as planned. */
        public long activationBytes() {
            return sharedBytes + privateBytes;
        }

        public String describe() {
            return String.format("%s: %d tensors in %d shared arrays (%.1f MiB) + %d private (%.1f MiB); %.1f MiB without sharing",
                    plan, sharedTensors, sharedArrays, sharedBytes / 1048576.0, privateTensors, privateBytes / 1048576.0, unsharedBytes / 1048576.0);
        }
    }

    /** One access of a storage by an op. */
    private record Access(Store store, boolean write) {}

    /**
     * Prepares the storage of a plan made of {@code graphs} run in this order, round after round:
     * with {@code share}, plans and binds shared arrays; otherwise (or when turned off) gives every
     * storage the plan touches its own array now, so that no later plan can share it.
     */
    public static Summary prepare(String plan, List<Graph> graphs, boolean share) {
        Analysis a = new Analysis(plan, graphs, share && enabled);
        a.check();
        a.assign();
        a.dump();
        a.bind();
        return a.summary();
    }

    /** The plan's layout without allocating anything (sizes of a model too large for this machine). */
    public static Summary analyze(String plan, List<Graph> graphs) {
        Analysis a = new Analysis(plan, graphs, true);
        a.assign();
        a.dump();
        return a.summary();
    }

    /** Whether compiling one graph alone may share its arrays: only an inference graph (no backward reads it later). */
    public static boolean sharesAlone(Graph g) {
        return !g.differentiable() && g.declaredReadBack() != null;
    }

    private static final class Analysis {
        final String plan;
        final Map<Store, List<int[]>> intervals = new LinkedHashMap<>();
        final Map<Store, Boolean> pinned = new LinkedHashMap<>();
        final Map<Tensor, Store> dataStores = new IdentityHashMap<>(), gradStores = new IdentityHashMap<>();
        final List<Slot> slots = new ArrayList<>();
        final Map<Store, Slot> placed = new LinkedHashMap<>();
        final Map<Store, Boolean> firstWrite = new LinkedHashMap<>();
        final int end;

        Analysis(String plan, List<Graph> graphs, boolean share) {
            this.plan = plan;
            int p = 0;
            for (Graph g : graphs) {
                for (Op op : g.ops()) {
                    List<Access> acc = new ArrayList<>();
                    accesses(op, acc);
                    // an op that reads and writes a storage accumulates into it: a read
                    Map<Store, Boolean> writeOnly = new LinkedHashMap<>();
                    for (Access x : acc) writeOnly.merge(x.store(), x.write(), Boolean::logicalAnd);
                    for (Map.Entry<Store, Boolean> e : writeOnly.entrySet()) touch(e.getKey(), p, e.getValue());
                    p++;
                }
            }
            end = p;
            for (Graph g : graphs) {
                List<Tensor> rb = g.declaredReadBack();
                if (rb == null) {
                    // the host may read anything the graph wrote
                    for (Op op : g.ops()) {
                        for (List<Tensor> ts : List.of(op.outputs(), op.saved(), op.inputs())) {
                            for (Tensor t : ts) {
                                pin(store(t, false));
                                if (t.requiresGrad()) pin(store(t, true));
                            }
                        }
                    }
                } else {
                    for (Tensor t : rb) pin(store(t, false));
                }
            }
            if (!share) intervals.keySet().forEach(this::pin);
        }

        Store store(Tensor t, boolean gradient) {
            return (gradient ? gradStores : dataStores).computeIfAbsent(t.root(), r -> new Store(r, gradient));
        }

        void pin(Store s) {
            pinned.put(s, Boolean.TRUE);
        }

        void touch(Store s, int p, boolean write) {
            List<int[]> iv = intervals.get(s);
            if (iv == null) {
                iv = new ArrayList<>();
                intervals.put(s, iv);
                firstWrite.put(s, write);
                Tensor.Kind k = s.root().kind();
                if (!write || (k != Tensor.Kind.ACTIVATION && k != Tensor.Kind.SAVED)) pin(s);
                iv.add(new int[]{p, p});
                return;
            }
            if (write) iv.add(new int[]{p, p});
            else iv.getLast()[1] = p;
        }

        /** Reads and writes of one op, by the op's catalogue entry. */
        void accesses(Op op, List<Access> acc) {
            switch (op) {
                case ZeroGrad z -> {
                    for (Tensor t : z.tensors()) if (t.requiresGrad()) acc.add(new Access(store(t, true), true));
                }
                case SeedGrad s -> acc.add(new Access(store(s.loss(), true), true));
                case Graph.BackwardOf b -> {
                    Op f = b.forward();
                    for (List<Tensor> ts : List.of(f.inputs(), f.outputs(), f.saved())) {
                        for (Tensor t : ts) acc.add(new Access(store(t, false), false));
                    }
                    for (Tensor t : f.outputs()) if (t.requiresGrad()) acc.add(new Access(store(t, true), false));
                    for (Tensor t : f.inputs()) if (t.requiresGrad()) acc.add(new Access(store(t, true), b.overwrites(t))); // accumulates, or writes whole
                }
                // optimizer and bookkeeping ops read and update parameters, their gradients and state in place
                case AdamW _, ClipGradNorm _, EmaUpdate _, L2Norm _ -> {
                    for (List<Tensor> ts : List.of(op.inputs(), op.outputs(), op.saved())) {
                        for (Tensor t : ts) {
                            acc.add(new Access(store(t, false), false));
                            if (t.requiresGrad()) acc.add(new Access(store(t, true), false));
                        }
                    }
                }
                // a forward op reads its inputs and overwrites its outputs and saved statistics
                case Matmul _, Add _, Mul _, Scale _, Silu _, Gelu _, GatedResidual _, Modulate _, LayerNorm _, Softmax _, Attention _,
                     Patchify _, Unpatchify _, Embedding _, Concat _, Chunk _, MseLoss _, CosineAlignLoss _, NtXentLoss _, Sum _, Mean _,
                     TimestepEmbedding _, Rope _, TokenMean _, SoftmaxCrossEntropy _, Conv2d _, GroupNorm _, Upsample _, Randn _,
                     LinearInterpolant _ -> {
                    for (Tensor t : op.inputs()) acc.add(new Access(store(t, false), false));
                    for (Tensor t : op.outputs()) acc.add(new Access(store(t, false), true));
                    for (Tensor t : op.saved()) acc.add(new Access(store(t, false), true));
                }
            }
        }

        static boolean overlap(List<int[]> a, List<int[]> b) {
            for (int[] x : a) for (int[] y : b) if (x[0] <= y[1] && y[0] <= x[1]) return true;
            return false;
        }

        /** Storages of earlier plans' shared arrays must keep their values as this plan uses them. */
        void check() {
            Map<Slot, List<Store>> bySlot = new IdentityHashMap<>();
            for (Store s : intervals.keySet()) {
                Slot sl = s.root().slot(s.gradient());
                if (sl == null) continue;
                if (!firstWrite.get(s)) {
                    throw new EngineException("plan '" + plan + "' reads " + s.describe() + " before writing it, but plan '" + sl.plan
                            + "' keeps it in memory shared with other tensors; declare it with readBack() in the graph that computes it");
                }
                bySlot.computeIfAbsent(sl, k -> new ArrayList<>()).add(s);
            }
            for (List<Store> group : bySlot.values()) {
                for (int i = 0; i < group.size(); i++) {
                    for (int j = i + 1; j < group.size(); j++) {
                        if (overlap(lifetime(group.get(i)), lifetime(group.get(j)))) {
                            throw new EngineException("plan '" + plan + "' needs " + group.get(i).describe() + " and " + group.get(j).describe()
                                    + " at once, but plan '" + group.get(i).root().slot(group.get(i).gradient()).plan
                                    + "' keeps them in one shared array; record a separate graph for this plan, or declare them with readBack() there");
                        }
                    }
                }
            }
        }

        /** A pinned storage (read back) lives to the end of the plan. */
        List<int[]> lifetime(Store s) {
            List<int[]> iv = intervals.get(s);
            if (!pinned.containsKey(s)) return iv;
            return List.of(new int[]{iv.getFirst()[0], end});
        }

        boolean plannable(Store s) {
            return !pinned.containsKey(s) && !s.root().hasStorage(s.gradient());
        }

        void assign() {
            List<Store> order = new ArrayList<>();
            for (Store s : intervals.keySet()) if (plannable(s)) order.add(s);
            order.sort(Comparator.comparingInt((Store s) -> -s.root().size()).thenComparingInt(s -> intervals.get(s).getFirst()[0]));
            Map<Integer, List<Slot>> bySize = new LinkedHashMap<>();
            for (Store s : order) {
                List<Slot> candidates = bySize.computeIfAbsent(s.root().size(), k -> new ArrayList<>());
                Slot chosen = null;
                for (Slot sl : candidates) {
                    boolean free = true;
                    for (Store o : sl.tenants) {
                        if (overlap(intervals.get(o), intervals.get(s))) {
                            free = false;
                            break;
                        }
                    }
                    if (free) {
                        chosen = sl;
                        break;
                    }
                }
                if (chosen == null) {
                    chosen = new Slot(s.root().size(), plan);
                    candidates.add(chosen);
                    slots.add(chosen);
                }
                chosen.tenants.add(s);
                placed.put(s, chosen);
            }
        }

        void bind() {
            for (Slot sl : slots) {
                if (sl.tenants.size() == 1) continue; // alone: it just gets its own storage
                Tensor.Storage shared = new Tensor.Storage(sl.size, sl);
                for (Store s : sl.tenants) s.root().bind(s.gradient(), shared);
            }
            // everything else the plan touches gets its storage now (its host array when first used), so a later plan cannot share it
            for (Store s : intervals.keySet()) s.root().storage(s.gradient());
        }

        /** -Derw.memory.verbose=true: every shared array and its tenants' lifetimes, on stderr. */
        void dump() {
            if (!Boolean.getBoolean("erw.memory.verbose")) return;
            System.err.println("[erw memory] plan " + plan + ": " + end + " ops");
            for (Slot sl : slots) {
                StringBuilder sb = new StringBuilder("[erw memory]   " + sl.size + " floats:");
                for (Store s : sl.tenants) {
                    sb.append(' ').append(s.gradient() ? "d:" : "").append(s.root().name());
                    for (int[] iv : intervals.get(s)) sb.append('[').append(iv[0]).append(',').append(iv[1]).append(']');
                }
                System.err.println(sb);
            }
        }

        Summary summary() {
            long shared = 0, priv = 0, unshared = 0;
            int sharedArrays = 0, sharedTensors = 0, privTensors = 0;
            for (Slot sl : slots) {
                if (sl.tenants.size() > 1) {
                    shared += 4L * sl.size;
                    sharedArrays++;
                    sharedTensors += sl.tenants.size();
                }
            }
            for (Store s : intervals.keySet()) {
                Tensor.Kind k = s.root().kind();
                if (k != Tensor.Kind.ACTIVATION && k != Tensor.Kind.SAVED) continue;
                unshared += 4L * s.root().size();
                Slot sl = placed.get(s);
                if (sl == null || sl.tenants.size() == 1) {
                    priv += 4L * s.root().size();
                    privTensors++;
                }
            }
            return new Summary(plan, shared, sharedArrays, sharedTensors, priv, privTensors, unshared);
        }
    }
}
