package erw.engine.tornado;

import erw.engine.Backend;
import erw.engine.BackendProvider;

/** {@code --backend tornado}: usable when the JVM was started with TornadoVM (the {@code tornado} launcher or its flags). */
public final class TornadoBackendProvider implements BackendProvider {
    /** For {@link java.util.ServiceLoader}. */
    public TornadoBackendProvider() {
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public String unavailableReason() {
        return TornadoRuntimeCheck.unavailableReason();
    }

    @Override
    public Backend create(int threads) {
        String why = unavailableReason();
        if (why != null) throw new erw.engine.EngineException("--backend tornado: " + why);
        String graphs = RankDevice.cudaGraphError(RankDevice.cudaGraph(), RankDevice.backendType());
        if (graphs != null) throw new erw.engine.EngineException("--backend tornado: " + graphs);
        return new TornadoBackend(threads);
    }
}
