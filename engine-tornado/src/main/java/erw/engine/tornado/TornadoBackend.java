package erw.engine.tornado;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Plan;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The TornadoVM backend: every recorded graph becomes one TaskGraph whose tasks are the kernels of
 * its ops (and their backward), over one FloatArray per host storage array shared by all graphs.
 */
public final class TornadoBackend implements Backend {
    /** -Derw.tornado.verbose=true: one line per compiled graph (TaskGraphs and transfers per run). */
    private static final boolean VERBOSE = Boolean.getBoolean("erw.tornado.verbose");
    private final DeviceBuffers buffers = new DeviceBuffers();
    private final Lowerings lowerings = new Lowerings();
    private final AtomicInteger graphs = new AtomicInteger();

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public Plan compile(Graph graph) {
        TaskSink sink = new TaskSink(buffers);
        for (Op op : graph.ops()) lowerings.lower(op, sink);
        TornadoPlan plan = new TornadoPlan(graph.name(), graphId(graph.name()), sink);
        if (VERBOSE) System.err.println("[erw tornado] " + plan.summary());
        return plan;
    }

    /** TaskGraph names are identifiers and unique within the process ("graph.task" keys the grids). */
    private String graphId(String name) {
        return "g" + graphs.getAndIncrement() + "_" + name.replaceAll("[^A-Za-z0-9]", "_");
    }

    @Override
    public void close() {
        buffers.clear();
    }
}
