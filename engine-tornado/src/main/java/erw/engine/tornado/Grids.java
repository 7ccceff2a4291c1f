package erw.engine.tornado;

import java.util.Map;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.WorkerGrid;

/** The GridScheduler of a TaskGraph: the work-group shape of each KernelContext task, keyed "graph.task". */
final class Grids {
    private Grids() {}

    static GridScheduler scheduler(String graphId, TaskSink sink) {
        if (sink.grids().isEmpty()) return null;
        GridScheduler gs = new GridScheduler();
        for (Map.Entry<String, WorkerGrid> e : sink.grids().entrySet()) gs.addWorkerGrid(graphId + "." + e.getKey(), e.getValue());
        return gs;
    }
}
