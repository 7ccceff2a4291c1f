package erw.engine.host;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads for data-parallel loops over an outer dimension.
 *
 * <p>{@link #parallelFor} cuts {@code [0, n)} into blocks of {@code grain} indices; the caller and
 * the workers claim runs of blocks from a shared counter until none are left. The caller never
 * waits for a worker that has not started (on a loaded machine a descheduled worker just gets no
 * blocks), only for blocks already claimed. Kernels must compute every index the same way whatever
 * block range it falls in and whichever thread runs it, which makes results independent of the
 * thread count; range boundaries are always multiples of {@code grain}.
 *
 * <p>Idle workers spin briefly, then park, so the thousands of small loops of a training step do
 * not pay a queue hand-off each.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop: handles indices {@code [lo, hi)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    /** One parallel loop, published whole so that a late worker never mixes two loops. */
    private static final class Job {
        final RangeBody body;
        final int n, grain, blocks, claimSize;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger active = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(RangeBody body, int n, int grain, int blocks, int claimSize) {
            this.body = body;
            this.n = n;
            this.grain = grain;
            this.blocks = blocks;
            this.claimSize = claimSize;
        }

        /** Claims and runs runs of blocks until none are left. */
        void work() {
            int b;
            while ((b = next.getAndAdd(claimSize)) < blocks) {
                int lo = b * grain, hi = Math.min(n, (b + claimSize) * grain);
                try {
                    body.run(lo, hi);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                    next.set(blocks);
                }
            }
        }
    }

    private static volatile WorkerPool shared;
    private static final ThreadLocal<Boolean> IN_LOOP = ThreadLocal.withInitial(() -> false);

    private final int threads;
    private final Thread[] workers;
    private volatile Job job;
    private volatile boolean closed;

    public WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("worker threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "erw-worker-" + (i + 1));
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

    /** Runs body over [0, n); returns when every index is done. */
    public void parallelFor(int n, RangeBody body) {
        parallelFor(n, 1, body);
    }

    /**
     * As {@link #parallelFor(int, RangeBody)}, with range boundaries at multiples of {@code grain}
     * (for kernels that work on blocks of indices). Loops of one block, and loops started from
     * inside another loop's body, run serially on the calling thread.
     */
    public void parallelFor(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        if (closed) throw new IllegalStateException("worker pool is closed");
        int blocks = (n + grain - 1) / grain;
        if (threads == 1 || blocks == 1 || IN_LOOP.get()) {
            body.run(0, n);
            return;
        }
        synchronized (this) {
            // a few claims per thread balance uneven blocks without many counter round trips
            int claim = Math.max(1, blocks / (threads * 4));
            Job j = new Job(body, n, grain, blocks, claim);
            job = j;
            for (Thread w : workers) LockSupport.unpark(w);
            IN_LOOP.set(true);
            try {
                j.work();
            } finally {
                IN_LOOP.set(false);
            }
            int spins = 0;
            while (j.active.get() > 0) {
                if (++spins < 50_000) Thread.onSpinWait();
                else Thread.yield();
            }
            Throwable f = j.failure.get();
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            if (f != null) throw new RuntimeException(f);
        }
    }

    private void workerLoop() {
        IN_LOOP.set(true);
        Job seen = null;
        while (!closed) {
            Job j = job;
            if (j == null || j == seen) {
                int spins = 0;
                while ((j = job) == seen && !closed) {
                    if (++spins < 20_000) Thread.onSpinWait();
                    else LockSupport.park(this);
                }
                if (closed) return;
            }
            seen = j;
            j.active.incrementAndGet();
            try {
                j.work();
            } finally {
                j.active.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
