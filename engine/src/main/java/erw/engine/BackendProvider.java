package erw.engine;

/**
 * A backend found at run time through {@link java.util.ServiceLoader}: the CPU backend is built in,
 * others (TornadoVM) are modules present only in builds that include them.
 */
public interface BackendProvider {
    /** The name users pass to {@code --backend}, e.g. "tornado". */
    String name();

    /** Null when usable here, else why not (no device, runtime missing), in words for the user. */
    String unavailableReason();

    /** A new backend; {@code threads} is a hint for host-side work. */
    Backend create(int threads);
}
