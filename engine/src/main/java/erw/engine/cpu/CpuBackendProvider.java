package erw.engine.cpu;

import erw.engine.Backend;
import erw.engine.BackendProvider;
import erw.engine.host.WorkerPool;

/** The built-in CPU backend as a {@link BackendProvider} ({@code --backend cpu}), so that {@code erw.engine} need not know this package. */
public final class CpuBackendProvider implements BackendProvider {
    /** For {@link java.util.ServiceLoader}. */
    public CpuBackendProvider() {
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String unavailableReason() {
        return null;
    }

    /** A CPU backend on its own pool of {@code threads} workers. */
    @Override
    public Backend create(int threads) {
        return new CpuBackend(new WorkerPool(threads), true, false);
    }
}
