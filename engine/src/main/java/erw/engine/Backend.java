package erw.engine;

import java.util.Collection;

/** Turns recorded graphs into runnable plans. */
public interface Backend extends AutoCloseable {
    /** A short name: "cpu" or "tornado". */
    String name();

    Plan compile(Graph graph);

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

    @Override
    void close();
}
