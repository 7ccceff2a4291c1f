package erw.engine;

/** A compiled graph: run it as often as needed; inputs and scalars are written into their tensors between runs. */
public interface Plan extends AutoCloseable {
    String name();

    void run();

    /**
     * Runs, calling {@code afterOp} with each op's index in the graph once it has finished (in
     * order): what a data-parallel run uses to start reducing gradients while backward goes on. A
     * backend that runs a graph as a whole (on a device, whose results reach the host only when
     * fetched) reports nothing.
     */
    default void run(java.util.function.IntConsumer afterOp) {
        run();
    }

    @Override
    void close();
}
