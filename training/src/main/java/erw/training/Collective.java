package erw.training;

import erw.engine.Graph;
import erw.engine.Tensor;
import java.util.List;

/**
 * The processes of a data-parallel run and what they do together: every rank trains the same model
 * on a disjoint slice of each global batch, and the ranks' gradients are averaged before the
 * optimizer, so every rank applies the same update. {@link #SINGLE} is the one-process run; the MPI
 * implementation lives in {@code erw.distributed}.
 */
public interface Collective extends AutoCloseable {
    /** This process's rank in [0, size). */
    int rank();

    /** The number of ranks. */
    int size();

    /**
     * Gradient averaging for one compiled backward graph: {@link GradientSync#afterOp} is called as
     * the backward's ops finish on a backend that reports them (an implementation may start reducing
     * gradients that are complete; their host arrays are current), {@link GradientSync#finish} is
     * called with every gradient current on the host and leaves each averaged over the ranks.
     */
    GradientSync gradientSync(List<Tensor> params, Graph backward);

    /** Replaces each value by its mean over the ranks (the logged losses). */
    void average(double[] values);

    /** Gives every rank rank 0's values of these tensors (after initialization or a resume). */
    void broadcast(List<Tensor> tensors);

    /** Waits for every rank. */
    void barrier();

    /**
     * Ends the whole job after a failure seen by this rank alone (bad data, a crash), so that no other
     * rank waits for it forever; prints {@code message} naming the rank. Does not return when size > 1.
     */
    void abort(String message, int exitCode);

    @Override
    void close();

    /** Gradient averaging of one backward graph; see {@link Collective#gradientSync}. */
    interface GradientSync {
        void afterOp(int opIndex);

        void finish();
    }

    /** One process: nothing to exchange. */
    Collective SINGLE = new Collective() {
        @Override public int rank() { return 0; }
        @Override public int size() { return 1; }
        @Override public GradientSync gradientSync(List<Tensor> params, Graph backward) {
            return new GradientSync() {
                @Override public void afterOp(int opIndex) {}
                @Override public void finish() {}
            };
        }
        @Override public void average(double[] values) {}
        @Override public void broadcast(List<Tensor> tensors) {}
        @Override public void barrier() {}
        @Override public void abort(String message, int exitCode) {}
        @Override public void close() {}
    };
}
