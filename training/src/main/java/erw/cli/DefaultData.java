package erw.cli;

import erw.training.BatchSource;
import java.io.PrintStream;
import java.nio.file.Path;

/** PLACEHOLDER until the dataset module lands. */
final class DefaultData {
    private DefaultData() {}

    static BatchSource prepare(Path root, long seed, PrintStream err) {
        throw new IllegalStateException("not yet");
    }

    static BatchSource open(Path dir) {
        throw new IllegalStateException("not yet");
    }
}
