package erw.engine;

import erw.engine.host.WorkerPool;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * {@code --backend cpu | tornado | auto}: which engine backend runs the graphs. Backends other than
 * the CPU one are found with {@link ServiceLoader}, so every command builds and runs without them.
 */
public final class Backends {
    private Backends() {}

    /** The chosen backend's name, and a way to make it (the CPU's provider is built into this module). */
    public record Choice(String name, BackendProvider provider) {
        public Backend create(int threads) {
            if (provider == null) {
                BackendProvider cpu = find("cpu");
                if (cpu == null) throw new IllegalStateException("the built-in CPU backend's provider is not registered (module-info or META-INF/services of erw.engine)");
                return cpu.create(threads);
            }
            return provider.create(threads);
        }

        public Backend create() {
            return create(WorkerPool.defaultThreads());
        }

        public boolean isCpu() {
            return provider == null;
        }
    }

    /** Resolves a {@code --backend} value; an unusable choice fails with a message naming why. */
    public static Choice choose(String requested) {
        String r = requested == null ? "auto" : requested.toLowerCase(Locale.ROOT);
        return switch (r) {
            case "cpu" -> new Choice("cpu", null);
            case "auto" -> {
                BackendProvider p = find("tornado");
                yield p != null && p.unavailableReason() == null ? new Choice(p.name(), p) : new Choice("cpu", null);
            }
            case "tornado" -> {
                BackendProvider p = find("tornado");
                if (p == null) {
                    throw new IllegalArgumentException("--backend tornado: the TornadoVM backend is not in this build "
                            + "(install TornadoVM's SDK, source tornado-env.sh, build with the 'tornado' profile and start with 'tornado'; see README); use --backend cpu");
                }
                String why = p.unavailableReason();
                if (why != null) throw new IllegalArgumentException("--backend tornado: " + why);
                yield new Choice(p.name(), p);
            }
            default -> throw new IllegalArgumentException("--backend " + requested + ": use cpu, tornado or auto");
        };
    }

    private static BackendProvider find(String name) {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.name().equals(name)) return p;
        }
        return null;
    }
}
