package erw.engine.tornado;

import erw.engine.Plan;

/** One graph of a {@link TornadoCycle}: running it runs that graph's TaskGraph segments. */
final class TornadoPlan implements Plan {
    private final TornadoCycle cycle;
    private final int part;
    private final TornadoBackend backend;
    private boolean closed;

    TornadoPlan(TornadoCycle cycle, int part, TornadoBackend backend) {
        this.cycle = cycle;
        this.part = part;
        this.backend = backend;
    }

    TornadoCycle cycle() {
        return cycle;
    }

    @Override
    public String name() {
        return cycle.graphName(part);
    }

    @Override
    public void run() {
        if (closed) throw new erw.engine.EngineException("plan '" + name() + "' was run after it was closed");
        cycle.run(part, backend.nextStamp());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (cycle.release()) backend.closed(cycle);
    }
}
