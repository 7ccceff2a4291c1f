package erw.engine;

/** A compiled graph: run it as often as needed; inputs and scalars are written into their tensors between runs. */
public interface Plan extends AutoCloseable {
    String name();

    void run();

    /**
     * Runs, calling {@code afterOp} with each op's index in the graph once it has finished (in
     * order): what a data-parallel run uses to start reducing gradients while backward goes on. A
     * backend that runs a graph as a whole calls it once, with {@link Integer#MAX_VALUE}, after the run.
     */
    default void run(java.util.function.IntConsumer afterOp) {
        run();
        afterOp.accept(Integer.MAX_VALUE);
    }

    @Override
    void close();
}
