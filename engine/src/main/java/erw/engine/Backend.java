package erw.engine;

import erw.engine.host.WorkerPool;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Turns recorded graphs into runnable plans. */
public interface Backend extends AutoCloseable {
    /** A short name: "cpu" or "tornado". */
    String name();

    Plan compile(Graph graph);

    /**
     * The host's worker threads, for what the model, sampler and trainer compute on the host
     * (noise, sampler updates): the CPU backend's own pool; a device backend's host-side pool.
     */
    default WorkerPool host() {
        return WorkerPool.shared();
    }

    /**
     * Compiles graphs that always run in this order, round after round (a training step: forward,
     * backward, optimizer, EMA), into one plan each. A device backend keeps every tensor they share
     * resident between them: weights, gradients and optimizer state never leave the device, only
     * inputs, scalars and each graph's {@link Graph#readBack(Tensor...)} tensors cross. Running the
     * plans out of order is an error there. The CPU compiles each graph on its own.
     */
    default List<Plan> compileCycle(String name, List<Graph> graphs) {
        List<Plan> plans = new ArrayList<>();
        for (Graph g : graphs) plans.add(compile(g));
        return plans;
    }

    /**
     * {@link #compileCycle(String, List)} for one rank of a data-parallel run whose device has no
     * collective library within reach: the gradients of {@code hostGradients} are averaged on the host
     * between backward and optimizer, so a device backend stages them through the host: every graph
     * that uses one copies it from the host before it runs and back after (host-staged all-reduce, the
     * fallback DDP-style trainers use without NCCL). On the CPU the host arrays are the truth already.
     */
    default List<Plan> compileCycle(String name, List<Graph> graphs, Collection<Tensor> hostGradients) {
        return compileCycle(name, graphs);
    }

    /**
     * Makes the host arrays of these tensors current before the host reads them (checkpoints,
     * sampling from a model being trained). A backend that keeps tensors resident on a device
     * copies them back; on the CPU the host arrays are the truth and this does nothing.
     */
    default void syncToHost(Collection<Tensor> tensors) {
    }

    /**
     * Host writes to these tensors (a resume, restored state) take effect on the device before the
     * next run of any plan. Nothing to do on the CPU.
     */
    default void syncToDevice(Collection<Tensor> tensors) {
    }

    /**
     * Host memory a device backend holds for its device buffers, in bytes: its host copies of them {filled when made,
     * zero-mapped (untouched anonymous memory), of those resident (-1 if unknown)}, and the host arrays (Java heap) of
     * the tensor storages they hold, made only for what the host uses. Zeros on the CPU, which holds none. For memory
     * reports.
     */
    default long[] hostMirrorBytes() {
        return new long[4];
    }

    @Override
    void close();
}
