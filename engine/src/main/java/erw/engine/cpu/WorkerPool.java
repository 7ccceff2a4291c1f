package erw.engine.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads for data-parallel loops over an outer dimension.
 *
 * <p>{@link #parallelFor} splits {@code [0, n)} into contiguous ranges, one per thread; the caller's
 * thread runs the first range. Kernels must compute every index the same way whatever range it
 * falls in, which is what makes results independent of the thread count.
 *
 * <p>Dispatch is a generation counter the workers spin on briefly and then park on, so that the
 * thousands of small loops of a training step do not pay a queue hand-off each.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop: handles indices {@code [lo, hi)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    private static volatile WorkerPool shared;

    private final int threads;
    private final Thread[] workers;
    private static final ThreadLocal<Boolean> IN_WORKER = ThreadLocal.withInitial(() -> false);
    private final AtomicInteger pending = new AtomicInteger();
    /** One parallel loop, published whole so that a late worker never mixes two loops. */
    private record Job(RangeBody body, int n, int grain, int active, int blocks, int generation) {}

    private volatile Job job = new Job(null, 0, 1, 0, 0, 0);
    private volatile boolean closed;
    private volatile Throwable failure;
    private final Thread[] waiting = new Thread[1];

    public WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("worker threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            final int id = i + 1;
            Thread t = new Thread(() -> workerLoop(id), "erw-worker-" + id);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** Threads from {@code -Derw.threads} or {@code ERW_THREADS}, else the number of cores. */
    public static int defaultThreads() {
        String s = System.getProperty("erw.threads", System.getenv("ERW_THREADS"));
        if (s != null && !s.isBlank()) {
            try {
                int v = Integer.parseInt(s.trim());
                if (v >= 1) return v;
            } catch (NumberFormatException ignored) {
                // fall through to the core count
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /** A process-wide pool with {@link #defaultThreads()} threads, made on first use. */
    public static WorkerPool shared() {
        WorkerPool p = shared;
        if (p == null) {
            synchronized (WorkerPool.class) {
                p = shared;
                if (p == null) shared = p = new WorkerPool(defaultThreads());
            }
        }
        return p;
    }

    public int threads() {
        return threads;
    }

    /** Runs body over [0, n) split in contiguous ranges; returns when all ranges are done. */
    public void parallelFor(int n, RangeBody body) {
        parallelFor(n, 1, body);
    }

    /**
     * As {@link #parallelFor(int, RangeBody)}, with range boundaries at multiples of {@code grain}
     * (for kernels that work on blocks of indices). Small loops run on the caller's thread.
     */
    public void parallelFor(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        if (closed) throw new IllegalStateException("worker pool is closed");
        int blocks = (n + grain - 1) / grain;
        // a loop started from inside a worker's range runs serially there (no nested dispatch)
        if (threads == 1 || blocks == 1 || IN_WORKER.get()) {
            body.run(0, n);
            return;
        }
        synchronized (this) {
            this.failure = null;
            int active = Math.min(threads, blocks);
            pending.set(active - 1);
            waiting[0] = Thread.currentThread();
            Job j = new Job(body, n, grain, active, blocks, job.generation() + 1);
            job = j;
            for (int i = 0; i < active - 1; i++) LockSupport.unpark(workers[i]);
            Throwable mine = null;
            IN_WORKER.set(true);
            try {
                runRange(j, 0);
            } catch (Throwable t) {
                mine = t;
            } finally {
                IN_WORKER.set(false);
            }
            int spins = 0;
            while (pending.get() > 0) {
                if (++spins < 20_000) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 50_000);
            }
            Throwable f = mine != null ? mine : failure;
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            if (f != null) throw new RuntimeException(f);
        }
    }

    private static void runRange(Job j, int id) {
        int per = j.blocks() / j.active(), extra = j.blocks() % j.active();
        int b0 = id * per + Math.min(id, extra);
        int b1 = b0 + per + (id < extra ? 1 : 0);
        int lo = b0 * j.grain(), hi = Math.min(j.n(), b1 * j.grain());
        if (lo < hi) j.body().run(lo, hi);
    }

    private void workerLoop(int id) {
        IN_WORKER.set(true);
        int seen = 0;
        while (true) {
            int spins = 0;
            Job j;
            while ((j = job).generation() == seen && !closed) {
                if (++spins < 20_000) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (closed) return;
            seen = j.generation();
            if (id < j.active()) {
                try {
                    runRange(j, id);
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (pending.decrementAndGet() == 0) LockSupport.unpark(waiting[0]);
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
