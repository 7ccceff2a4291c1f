package erw.engine;

/** Turns recorded graphs into runnable plans. */
public interface Backend extends AutoCloseable {
    /** A short name: "cpu" or "tornado". */
    String name();

    Plan compile(Graph graph);

    @Override
    void close();
}
