package erw.engine.cpu;

import erw.engine.host.WorkerPool;
import erw.engine.Backend;
import erw.engine.BufferPlanner;
import erw.engine.EngineException;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Plan;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The reference backend: a plan is the graph's ops run in order, each a parallel loop on a fixed
 * {@link WorkerPool}. With profiling on, time is summed per op type ({@link #profile()}).
 */
public final class CpuBackend implements Backend {
    /** -Derw.profile.byName=true: profile per op name (blocks merged) instead of per op type. */
    private static final boolean BY_NAME = Boolean.getBoolean("erw.profile.byName");

    private final WorkerPool pool;
    private final boolean ownsPool;
    private final boolean profiling;
    private final Map<String, long[]> profile = new TreeMap<>();

    public CpuBackend() {
        this(WorkerPool.shared(), false, Boolean.getBoolean("erw.profile"));
    }

    public CpuBackend(int threads) {
        this(new WorkerPool(threads), true, Boolean.getBoolean("erw.profile"));
    }

    public CpuBackend(WorkerPool pool, boolean ownsPool, boolean profiling) {
        this.pool = pool;
        this.ownsPool = ownsPool;
        this.profiling = profiling;
    }

    public WorkerPool pool() {
        return pool;
    }

    /** The pool the kernels run on. */
    @Override
    public WorkerPool host() {
        return pool;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Plan compile(Graph graph) {
        BufferPlanner.prepare(graph.name(), List.of(graph), BufferPlanner.sharesAlone(graph));
        return new CpuPlan(graph.name(), graph.ops().toArray(new Op[0]));
    }

    /** The graphs' activations share memory by liveness across the whole cycle ({@link BufferPlanner}). */
    @Override
    public List<Plan> compileCycle(String name, List<Graph> graphs) {
        BufferPlanner.prepare(name, graphs, true);
        List<Plan> plans = new ArrayList<>();
        for (Graph g : graphs) plans.add(new CpuPlan(g.name(), g.ops().toArray(new Op[0])));
        return plans;
    }

    /** Per op type: {nanoseconds, calls, flops}, when profiling was enabled. */
    public synchronized Map<String, long[]> profile() {
        Map<String, long[]> copy = new TreeMap<>();
        profile.forEach((k, v) -> copy.put(k, v.clone()));
        return copy;
    }

    public synchronized void resetProfile() {
        profile.clear();
    }

    private synchronized void record(String type, long nanos, long flops) {
        long[] e = profile.computeIfAbsent(type, k -> new long[3]);
        e[0] += nanos;
        e[1]++;
        e[2] += flops;
    }

    @Override
    public void close() {
        if (ownsPool) pool.close();
    }

    private final class CpuPlan implements Plan {
        private final String name;
        private final Op[] ops;
        private boolean closed;

        CpuPlan(String name, Op[] ops) {
            this.name = name;
            this.ops = ops;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public void run() {
            if (closed) throw new EngineException("plan '" + name + "' was run after it was closed");
            if (!profiling) {
                for (Op op : ops) Kernels.forward(op, pool);
                return;
            }
            for (Op op : ops) {
                long t0 = System.nanoTime();
                Kernels.forward(op, pool);
                record(BY_NAME ? op.type() + " " + op.name().replaceAll("blocks\\.\\d+\\.", "blocks.*.") : op.type(), System.nanoTime() - t0, op.flops());
            }
        }

        @Override
        public void run(java.util.function.IntConsumer afterOp) {
            if (closed) throw new EngineException("plan '" + name + "' was run after it was closed");
            for (int i = 0; i < ops.length; i++) {
                Kernels.forward(ops[i], pool);
                afterOp.accept(i);
            }
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    /** Convenience: compile and run each graph once, in order. */
    public void runOnce(List<Graph> graphs) {
        for (Graph g : graphs) {
            try (Plan p = compile(g)) {
                p.run();
            }
        }
    }
}
