package erw.engine;

/** A compiled graph: run it as often as needed; inputs and scalars are written into their tensors between runs. */
public interface Plan extends AutoCloseable {
    String name();

    void run();

    @Override
    void close();
}
