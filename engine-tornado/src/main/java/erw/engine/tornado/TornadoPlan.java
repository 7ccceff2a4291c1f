package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Plan;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * A recorded graph as TaskGraphs run in order. TornadoVM 5.2 caps a TaskGraph (8 KB of its
 * internal bytecode, 256 tasks; a SiT backward has hundreds) and, on PoCL, bailed out of a SiT
 * forward recorded as TaskGraphs of 24 tasks while 8 work, so graphs are cut into segments of at
 * most {@link #MAX_TASKS} tasks (-Derw.tornado.tasksPerGraph). Host arrays are the truth between segments and
 * runs: a segment copies in every buffer it uses and copies out every buffer its graph writes.
 */
final class TornadoPlan implements Plan {
    static final int MAX_TASKS = Integer.getInteger("erw.tornado.tasksPerGraph", 8);

    private record Segment(String id, TornadoExecutionPlan plan, List<FloatArray> in, List<FloatArray> out) {}

    private final String name;
    private final TaskSink sink;
    private final List<Segment> segments = new ArrayList<>();
    private boolean closed;

    TornadoPlan(String name, String graphId, TaskSink sink) {
        this.name = name;
        this.sink = sink;
        List<TaskSink.Task> tasks = sink.tasks();
        for (int from = 0, k = 0; from < tasks.size(); from += MAX_TASKS, k++) {
            segments.add(segment(graphId + (tasks.size() > MAX_TASKS ? "_s" + k : ""), tasks.subList(from, Math.min(tasks.size(), from + MAX_TASKS))));
        }
    }

    private Segment segment(String id, List<TaskSink.Task> tasks) {
        Set<FloatArray> used = Collections.newSetFromMap(new IdentityHashMap<>());
        List<FloatArray> in = new ArrayList<>(), out = new ArrayList<>();
        for (TaskSink.Task t : tasks) {
            for (FloatArray a : TaskArgs.buffers(t.adder())) {
                if (!used.add(a)) continue;
                Integer mode = sink.access().get(a);
                if (mode == null) throw new EngineException("TornadoVM backend, op '" + t.opName() + "': task " + t.id() + " uses a buffer no tensor backs");
                in.add(a);
                if ((mode & TaskSink.WRITE) != 0) out.add(a);
            }
        }
        TaskGraph tg = new TaskGraph(id);
        tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in.toArray());
        GridScheduler gs = new GridScheduler();
        boolean anyGrid = false;
        for (TaskSink.Task t : tasks) {
            t.adder().accept(tg, t.id());
            WorkerGrid g = sink.grids().get(t.id());
            if (g != null) {
                gs.addWorkerGrid(id + "." + t.id(), g);
                anyGrid = true;
            }
        }
        if (!out.isEmpty()) tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out.toArray());
        TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot());
        if (anyGrid) plan.withGridScheduler(gs);
        return new Segment(id, plan, in, out);
    }

    @Override
    public String name() {
        return name;
    }

    /** In words: tasks, TaskGraphs, and host-to-device / device-to-host buffer transfers per run. */
    String summary() {
        int in = 0, out = 0;
        long bytes = 0;
        for (Segment s : segments) {
            in += s.in().size();
            out += s.out().size();
            for (FloatArray a : s.in()) bytes += 4L * a.getSize();
            for (FloatArray a : s.out()) bytes += 4L * a.getSize();
        }
        return "graph '" + name + "': " + sink.tasks().size() + " tasks in " + segments.size() + " TaskGraphs; per run "
                + in + " buffers in, " + out + " out (" + bytes / 1024 + " KiB)";
    }

    @Override
    public void run() {
        if (closed) throw new EngineException("plan '" + name + "' was run after it was closed");
        for (Runnable check : sink.hostChecks()) check.run();
        for (Segment s : segments) {
            for (FloatArray a : s.in()) DeviceBuffers.copyIn(sink.host(a), a);
            Execution.run(name + " (" + s.id() + ")", s.plan());
            for (FloatArray a : s.out()) DeviceBuffers.copyOut(a, sink.host(a));
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Segment s : segments) Execution.close(s.plan());
    }
}
