package erw.distributed;

import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.training.Collective;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link Collective} over MPI: gradients are averaged in buckets (as PyTorch DDP does) that start
 * reducing with a non-blocking {@code MPI_Iallreduce} as soon as the backward pass has written
 * every gradient in them, so communication overlaps the rest of the backward; MPI is driven
 * ({@code MPI_Test}) after every op. Buckets follow the order in which backward completes
 * gradients (the last layers first), {@value #DEFAULT_BUCKET_MIB} MiB each by default
 * ({@code -Derw.dp.bucketMiB}). Each bucket is reduced by the same MPI algorithm on every step for
 * a given number of ranks, so the summation order is fixed and runs repeat bit for bit.
 */
public final class MpiCollective implements Collective {
    public static final int DEFAULT_BUCKET_MIB = 4;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final Mpi mpi;
    private final long bucketFloats;
    /** Seconds spent waiting for reductions to complete in the last finished step (after backward). */
    private double lastWaitSeconds, totalWaitSeconds;
    private long reducedFloats, steps;
    private int bucketCount;

    public MpiCollective(Mpi mpi) {
        this.mpi = mpi;
        this.bucketFloats = Math.max(1, Long.getLong("erw.dp.bucketMiB", DEFAULT_BUCKET_MIB)) * (1L << 20) / 4;
    }

    @Override public int rank() { return mpi.rank(); }
    @Override public int size() { return mpi.size(); }

    /** Seconds the last step waited for gradient reductions after its backward finished. */
    public double lastWaitSeconds() {
        return lastWaitSeconds;
    }

    /** Floats all-reduced per step (every trained parameter's gradient). */
    public long reducedFloatsPerStep() {
        return reducedFloats;
    }

    private static final class Bucket {
        final List<Tensor> params = new ArrayList<>();
        int ready = -1;
        long floats;
        MemorySegment buf;
        Mpi.Request request;
    }

    @Override
    public GradientSync gradientSync(List<Tensor> params, Graph backward) {
        // the op after which each parameter's gradient is final: the last backward op that reads it as a forward input
        Map<Tensor, Integer> index = new IdentityHashMap<>();
        for (Tensor p : params) index.put(p, -1);
        List<Op> ops = backward.ops();
        for (int j = 0; j < ops.size(); j++) {
            if (ops.get(j) instanceof Graph.BackwardOf b) {
                for (Tensor t : b.forward().inputs()) {
                    Tensor root = t.root();
                    if (index.containsKey(root)) index.put(root, j);
                }
            }
        }
        List<Tensor> order = new ArrayList<>(params);
        order.sort(Comparator.comparingInt(index::get)); // stable: ties keep the parameters' order
        List<Bucket> buckets = new ArrayList<>();
        Bucket cur = null;
        long total = 0;
        for (Tensor p : order) {
            if (cur == null || cur.floats + p.size() > bucketFloats && !cur.params.isEmpty()) {
                cur = new Bucket();
                buckets.add(cur);
            }
            cur.params.add(p);
            cur.floats += p.size();
            cur.ready = Math.max(cur.ready, index.get(p));
            total += p.size();
        }
        for (Bucket b : buckets) {
            if (b.floats > Integer.MAX_VALUE) throw new MpiException("a gradient of " + b.floats + " floats is too large for one MPI reduction");
            b.buf = mpi.allocateFloats(b.floats);
            b.request = mpi.newRequest();
        }
        reducedFloats = total;
        bucketCount = buckets.size();
        float scale = 1f / size();
        return new GradientSync() {
            private int next; // buckets are started in order

            private int pending; // the oldest started bucket not known to be complete

            @Override
            public void afterOp(int opIndex) {
                while (next < buckets.size() && buckets.get(next).ready <= opIndex) start(buckets.get(next++));
                // one MPI_Test drives MPI's progress for every request in flight
                while (pending < next && buckets.get(pending).request.test()) pending++;
            }

            @Override
            public void finish() {
                while (next < buckets.size()) start(buckets.get(next++));
                long t0 = System.nanoTime();
                for (Bucket b : buckets) b.request.await();
                lastWaitSeconds = (System.nanoTime() - t0) / 1e9;
                totalWaitSeconds += lastWaitSeconds;
                steps++;
                for (Bucket b : buckets) {
                    long off = 0;
                    for (Tensor p : b.params) {
                        float[] g = p.grad();
                        MemorySegment.copy(b.buf, F, off * 4, g, 0, p.size());
                        for (int i = 0; i < g.length; i++) g[i] *= scale;
                        off += p.size();
                    }
                }
                next = 0;
                pending = 0;
            }

            private void start(Bucket b) {
                long off = 0;
                for (Tensor p : b.params) {
                    MemorySegment.copy(p.grad(), 0, b.buf, F, off * 4, p.size());
                    off += p.size();
                }
                mpi.startAllReduceSum(b.buf, (int) b.floats, b.request);
            }
        };
    }

    private MemorySegment doubles;

    @Override
    public void average(double[] values) {
        if (doubles == null || doubles.byteSize() < 8L * values.length) doubles = mpi.allocateDoubles(Math.max(16, values.length));
        MemorySegment buf = doubles;
        MemorySegment.copy(values, 0, buf, ValueLayout.JAVA_DOUBLE, 0, values.length);
        mpi.allReduceSumDoubles(buf, values.length);
        MemorySegment.copy(buf, ValueLayout.JAVA_DOUBLE, 0, values, 0, values.length);
        for (int i = 0; i < values.length; i++) values[i] /= size();
    }

    @Override
    public void broadcast(List<Tensor> tensors) {
        // through one bucket-sized native buffer, freed afterwards (a run broadcasts its whole state at start, transition and resume)
        long largest = tensors.stream().mapToLong(Tensor::size).max().orElse(0);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(F, Math.max(1, Math.min(largest, bucketFloats)));
            int chunk = (int) Math.min(buf.byteSize() / 4, Integer.MAX_VALUE);
            for (Tensor t : tensors) {
                for (int off = 0; off < t.size(); off += chunk) {
                    int n = Math.min(chunk, t.size() - off);
                    MemorySegment.copy(t.data(), off, buf, F, 0, n);
                    mpi.broadcast(buf, n, 0);
                    MemorySegment.copy(buf, F, 0, t.data(), off, n);
                }
            }
        }
    }

    @Override
    public void barrier() {
        mpi.barrier();
    }

    @Override
    public void abort(String message, int exitCode) {
        System.err.println("erw: rank " + rank() + " of " + size() + " failed: " + message + " (ending every rank of the job)");
        System.err.flush();
        mpi.abort(exitCode);
        Runtime.getRuntime().halt(exitCode); // MPI_Abort does not return; in case it does
    }

    /** One line for the log: what was reduced per step and how long the steps waited for it after backward. */
    public String summary() {
        return String.format(java.util.Locale.ROOT, "data parallel: %d ranks, %.1f MiB of gradients all-reduced per step in %d buckets; "
                + "waited %.2f ms per step for the reduction after the backward (mean over %d steps)",
                size(), reducedFloats * 4 / 1048576.0, bucketCount, steps == 0 ? 0 : 1e3 * totalWaitSeconds / steps, steps);
    }

    @Override
    public void close() {
        if (rank() == 0 && steps > 0) System.err.println(summary());
        mpi.close();
    }
}
