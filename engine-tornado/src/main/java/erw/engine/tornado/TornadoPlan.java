package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Plan;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * One recorded graph as one TaskGraph in its own execution plan. Host arrays are the truth
 * between runs: every host-backed buffer a task reads is copied in each run, every buffer a task
 * writes is copied out. Correct whatever other graphs do to the same tensors, at the price of the
 * transfers.
 */
final class TornadoPlan implements Plan {
    private final String name;
    private final TaskSink sink;
    private final List<FloatArray> inputs = new ArrayList<>(), outputs = new ArrayList<>();
    private TornadoExecutionPlan plan;
    private boolean closed;

    TornadoPlan(String name, String graphId, TaskSink sink) {
        this.name = name;
        this.sink = sink;
        for (Map.Entry<FloatArray, Integer> e : sink.access().entrySet()) {
            inputs.add(e.getKey());
            if ((e.getValue() & TaskSink.WRITE) != 0) outputs.add(e.getKey());
        }
        if (sink.tasks().isEmpty()) return;
        TaskGraph tg = new TaskGraph(graphId);
        tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, inputs.toArray());
        if (!sink.scratchBuffers().isEmpty()) tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, sink.scratchBuffers().toArray());
        for (TaskSink.Task t : sink.tasks()) t.adder().accept(tg, t.id());
        if (!outputs.isEmpty()) tg.transferToHost(DataTransferMode.EVERY_EXECUTION, outputs.toArray());
        plan = new TornadoExecutionPlan(tg.snapshot());
        GridScheduler gs = Grids.scheduler(graphId, sink);
        if (gs != null) plan.withGridScheduler(gs);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void run() {
        if (closed) throw new EngineException("plan '" + name + "' was run after it was closed");
        for (Runnable check : sink.hostChecks()) check.run();
        if (plan == null) return;
        for (FloatArray a : inputs) DeviceBuffers.copyIn(sink.host(a), a);
        Execution.run(name, plan);
        for (FloatArray a : outputs) DeviceBuffers.copyOut(a, sink.host(a));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (plan != null) Execution.close(plan);
    }
}
