package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Graphs that run in a fixed order, round after round (forward, backward, optimizer, EMA), as one
 * TornadoExecutionPlan: TornadoVM shares device buffers only between the task graphs of one plan.
 * A graph runs as segments of at most {@link #MAX_TASKS} tasks and {@link #MAX_BUFFERS} buffers, each a TaskGraph: TornadoVM 5.2 builds a
 * TaskGraph as a graph of at most 1,024 nodes (tasks, their arguments, transfers; "Tornado Graph resize not
 * implemented yet" beyond, which 256 of erw's tasks reached) and encodes it into a bytecode buffer that
 * {@link TornadoBackend} enlarges (at TornadoVM's default 4 KiB, segments of more than 8 tasks bailed out).
 * 32 tasks per TaskGraph pass the whole PoCL suite, 64 the training-step parity tests, and 8, 32 and 64 give
 * the same losses bit for bit (a 30-step tiny run); 32 keeps a margin
 * under the node limit: a SiT step is about 4 times fewer TaskGraphs than with 8, each one launch.
 *
 * <p>Buffers are of two kinds:
 * <ul>
 * <li><b>host I/O</b>: the data of INPUT and SCALAR tensors (a batch, the learning rate, the
 * gradient norm). A segment that uses one copies it in on every execution, and out when its graph
 * writes it: a few KiB per step. A data-parallel rank's parameter gradients are host I/O too
 * ({@link TornadoBackend#compileCycle(String, List, java.util.Collection)}): the host averages them
 * between backward and optimizer, so they cross every step: each segment that uses one copies it (about
 * seven times the gradients' size a step, measured).</li>
 * <li><b>resident</b>: everything else (weights, gradients, optimizer moments, EMA, activations,
 * per-op scratch). The segment that uses one first in the cycle uploads it on its first execution
 * ({@code FIRST_EXECUTION}) and owns its device buffer; it never crosses again. TornadoVM hands a
 * device buffer only from the task graph executed just before ({@code persistOnDevice} in the
 * owner, {@code consumeFromDevice} after it), so every later segment up to the buffer's last use
 * consumes it from its predecessor, also the segments that do not touch it. Only the owner
 * persists it: a consumed buffer is already kept (consumeFromDevice marks it persisted), and a
 * second persistOnDevice would list it among that graph's outputs, which close() frees: the
 * shared device buffer would be freed twice.</li>
 * </ul>
 * The host reads a graph's {@code readBack} tensors after its last segment and any resident buffer
 * on {@link #fetch}, both as on-demand transfers from the buffer's owner.
 */
final class TornadoCycle implements AutoCloseable {
    static final int MAX_TASKS = Integer.getInteger("erw.tornado.tasksPerGraph", 32);
    /**
     * Distinct buffers per TaskGraph: TornadoVM adds about four graph nodes per buffer (the object, its allocation or copy,
     * a read after each write, its persist or release), so the grouped optimizer tasks ({@code MultiTensorKernels}, up to
     * 12 buffers each) ran 32 tasks into the 1,024-node limit; 128 buffers keep a segment near 600 nodes.
     */
    static final int MAX_BUFFERS = Integer.getInteger("erw.tornado.buffersPerGraph", 128);
    /** -Derw.tornado.profile=true: TornadoVM's profiler counts the bytes each execution copies (see {@link #profile()}). */
    static final boolean PROFILE = Boolean.getBoolean("erw.tornado.profile");

    /** One graph of the cycle: its lowered tasks and what the host reads after it runs. */
    record Part(String graphName, TaskSink sink, List<FloatArray> readBack) {}

    private static final class Segment {
        final int part;
        final List<TaskSink.Task> tasks;
        final List<FloatArray> in = new ArrayList<>(), out = new ArrayList<>();
        final Set<FloatArray> used = identitySet(), firstUse = identitySet();
        String id;
        boolean executed;

        Segment(int part, List<TaskSink.Task> tasks) {
            this.part = part;
            this.tasks = tasks;
        }
    }

    private final String name;
    private final List<Part> parts;
    private final Function<String, String> ids;
    private final List<Segment> segments = new ArrayList<>();
    /** Per part: index of its first segment; one more entry for the end. */
    private final int[] partStart;
    /** Resident buffers in first-use order, with the segment of first and last use. */
    private final Map<FloatArray, int[]> residentRange = new IdentityHashMap<>();
    private final Map<FloatArray, Tensor.Storage> storageOf = new IdentityHashMap<>();
    private final Map<Tensor.Storage, FloatArray> residentByStorage = new IdentityHashMap<>();
    private TornadoExecutionPlan plan;
    private TornadoExecutionResult lastResult;
    private int nextPart;
    private boolean started, closed, rebuild;
    private long lastRun;
    private int openPlans;
    private long executions, rounds, bytesIn, bytesOut, firstRoundBytesIn, readBackBytes, syncedBytes, kernelNanos, transferNanos, totalNanos, wallNanos, graalNanos, driverNanos;

    /**
     * @param ids makes a process-unique TaskGraph name from a base (names key the grid scheduler)
     */
    TornadoCycle(String name, List<Part> parts, Function<String, String> ids) {
        this.name = name;
        this.parts = List.copyOf(parts);
        this.ids = ids;
        this.partStart = new int[parts.size() + 1];
        for (int p = 0; p < parts.size(); p++) {
            partStart[p] = segments.size();
            List<TaskSink.Task> tasks = parts.get(p).sink().tasks();
            Set<FloatArray> distinct = identitySet();
            int from = 0;
            for (int i = 0; i < tasks.size(); i++) {
                int fresh = 0;
                for (FloatArray a : tasks.get(i).buffers()) if (!distinct.contains(a)) fresh++;
                if (i > from && (i - from == MAX_TASKS || distinct.size() + fresh > MAX_BUFFERS)) {
                    segments.add(new Segment(p, tasks.subList(from, i)));
                    from = i;
                    distinct.clear();
                }
                distinct.addAll(tasks.get(i).buffers());
            }
            if (from < tasks.size()) segments.add(new Segment(p, tasks.subList(from, tasks.size())));
        }
        partStart[parts.size()] = segments.size();
        classify();
        this.openPlans = parts.size();
        build();
    }

    private static <T> Set<T> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }

    /** Splits each segment's buffers into host I/O and resident, and finds each resident buffer's range of use. */
    private void classify() {
        for (int s = 0; s < segments.size(); s++) {
            Segment seg = segments.get(s);
            TaskSink sink = parts.get(seg.part).sink();
            for (TaskSink.Task t : seg.tasks) {
                for (FloatArray a : t.buffers()) {
                    if (!seg.used.add(a)) continue;
                    Integer mode = sink.access().get(a);
                    if (mode == null) throw new EngineException("TornadoVM backend, op '" + t.opName() + "': task " + t.id() + " uses a buffer no tensor backs");
                    storageOf.put(a, sink.storage(a));
                    if (sink.isHostIO(a)) {
                        seg.in.add(a);
                        if ((mode & TaskSink.WRITE) != 0) seg.out.add(a);
                    } else {
                        int[] range = residentRange.get(a);
                        if (range == null) {
                            residentRange.put(a, new int[]{s, s});
                            residentByStorage.put(sink.storage(a), a);
                            seg.firstUse.add(a);
                        } else {
                            range[1] = s;
                        }
                    }
                }
            }
        }
    }

    /** (Re)creates the TaskGraphs and the execution plan; a rebuilt cycle uploads its buffers again. */
    private void build() {
        for (int s = 0; s < segments.size(); s++) {
            Segment seg = segments.get(s);
            boolean split = partStart[seg.part + 1] - partStart[seg.part] > 1;
            seg.id = ids.apply(parts.get(seg.part).graphName() + (split ? "_s" + (s - partStart[seg.part]) : ""));
            seg.executed = false;
        }
        GridScheduler gs = new GridScheduler();
        boolean anyGrid = false;
        TaskGraph[] graphs = new TaskGraph[segments.size()];
        for (int s = 0; s < segments.size(); s++) {
            Segment seg = segments.get(s);
            List<FloatArray> consume = new ArrayList<>(), persist = new ArrayList<>();
            for (Map.Entry<FloatArray, int[]> e : residentRange.entrySet()) {
                int[] r = e.getValue();
                if (r[0] == s) persist.add(e.getKey());
                else if (r[0] < s && s <= r[1]) consume.add(e.getKey());
            }
            TaskGraph tg = new TaskGraph(seg.id);
            if (!consume.isEmpty()) tg.consumeFromDevice(segments.get(s - 1).id, consume.toArray());
            if (!seg.firstUse.isEmpty()) tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, seg.firstUse.toArray());
            if (!seg.in.isEmpty()) tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, seg.in.toArray());
            TaskSink sink = parts.get(seg.part).sink();
            for (TaskSink.Task t : seg.tasks) {
                t.adder().accept(tg, t.id());
                WorkerGrid g = sink.grids().get(t.id());
                if (g != null) {
                    gs.addWorkerGrid(seg.id + "." + t.id(), g);
                    anyGrid = true;
                }
            }
            if (!seg.out.isEmpty()) tg.transferToHost(DataTransferMode.EVERY_EXECUTION, seg.out.toArray());
            if (!persist.isEmpty()) tg.persistOnDevice(persist.toArray());
            graphs[s] = tg;
        }
        var snapshots = new uk.ac.manchester.tornado.api.ImmutableTaskGraph[graphs.length];
        for (int s = 0; s < graphs.length; s++) snapshots[s] = graphs[s].snapshot();
        plan = new TornadoExecutionPlan(snapshots);
        if (RankDevice.device() != null) plan.withDevice(RankDevice.device()); // one device per local rank of a data-parallel job
        if (anyGrid) plan.withGridScheduler(gs);
        if (PROFILE) plan.withProfiler(uk.ac.manchester.tornado.api.enums.ProfilerMode.SILENT);
        // TornadoVM 5.2 keeps a TaskGraph's allocations and FIRST_EXECUTION uploads outside the captured region, so a
        // replay neither re-uploads resident buffers nor reallocates; every-execution copies and launches are replayed
        // from the same (pinned) host addresses, which the host I/O mirrors keep
        if (RankDevice.cudaGraph()) plan.withCUDAGraph();
        lastResult = null;
        started = false;
        nextPart = 0;
    }

    String name() {
        return name;
    }

    int parts() {
        return parts.size();
    }

    String graphName(int part) {
        return parts.get(part).graphName();
    }

    /** Runs one graph's segments; graphs must run in cycle order. */
    synchronized void run(int part, long stamp) {
        if (closed) throw new EngineException("TornadoVM backend: graph '" + graphName(part) + "' was run after it was closed");
        if (part != nextPart) {
            throw new EngineException("TornadoVM backend: the graphs of cycle '" + name + "' keep their tensors on the device between them and must run in the order "
                    + parts.stream().map(Part::graphName).toList() + ", round after round; '" + graphName(part) + "' ran when '" + graphName(nextPart) + "' was due");
        }
        if (rebuild) {
            Execution.close(plan);
            rebuild = false;
            build();
        }
        for (Runnable check : parts.get(part).sink().hostChecks()) check.run();
        long t0 = System.nanoTime();
        boolean timed = rounds > 0;
        for (int s = partStart[part]; s < partStart[part + 1]; s++) {
            Segment seg = segments.get(s);
            // FIRST_EXECUTION uploads what the FloatArray holds then: the host's values at the first run
            if (!seg.executed) for (FloatArray a : seg.firstUse) DeviceBuffers.upload(storageOf.get(a), a);
            for (FloatArray a : seg.in) DeviceBuffers.copyIn(storageOf.get(a), a);
            lastResult = Execution.run(graphName(part) + " (" + seg.id + ")", plan, s);
            executions++;
            if (PROFILE) count(lastResult, !seg.executed);
            seg.executed = true;
            for (FloatArray a : seg.out) DeviceBuffers.copyOut(a, storageOf.get(a));
        }
        started = true;
        nextPart = (part + 1) % parts.size();
        if (nextPart == 0) rounds++;
        lastRun = stamp;
        readBackBytes += fetch(parts.get(part).readBack());
        if (timed) wallNanos += System.nanoTime() - t0;
    }

    private void count(TornadoExecutionResult r, boolean first) {
        long in = r.getProfilerResult().getTotalBytesCopyIn();
        bytesIn += in;
        bytesOut += r.getProfilerResult().getTotalBytesCopyOut();
        if (first) {
            firstRoundBytesIn += in;
            graalNanos += r.getProfilerResult().getTornadoCompilerTime();
            driverNanos += r.getProfilerResult().getDriverInstallTime();
        }
        if (!first) {
            kernelNanos += r.getProfilerResult().getDeviceKernelTime();
            transferNanos += r.getProfilerResult().getDataTransfersTime();
            totalNanos += r.getProfilerResult().getTotalTime();
        }
    }

    /** TaskGraph executions, completed rounds and the bytes TornadoVM's profiler saw cross (with -Derw.tornado.profile). */
    long[] counters() {
        return new long[]{executions, rounds, bytesIn, bytesOut, firstRoundBytesIn, readBackBytes, syncedBytes};
    }

    /** In words, what TornadoVM's profiler counted so far (empty without -Derw.tornado.profile). */
    String profile() {
        if (!PROFILE || rounds == 0) return "";
        return String.format(java.util.Locale.ROOT,
                "cycle '%s' (TornadoVM profiler): %d rounds, %d TaskGraph executions (%d per round); %d tasks compiled in %.1f s by TornadoVM's compiler (Graal) + %.1f s by the driver; host-to-device %.1f KiB at first executions, then %.1f KiB per round; device-to-host %.1f KiB per round + %.1f KiB read back; %.1f KiB synced to the host in all (checkpoints, transition); after the first round, per round %.3f s wall, %.3f s in TornadoVM's executions, %.3f s of it device kernels and %.3f s transfers",
                name, rounds, executions, executions / rounds, segments.stream().mapToInt(x -> x.tasks.size()).sum(), graalNanos / 1e9, driverNanos / 1e9, firstRoundBytesIn / 1024.0, (bytesIn - firstRoundBytesIn) / 1024.0 / Math.max(1, rounds - 1),
                bytesOut / 1024.0 / rounds, readBackBytes / 1024.0 / rounds, syncedBytes / 1024.0,
                wallNanos / 1e9 / Math.max(1, rounds - 1), totalNanos / 1e9 / Math.max(1, rounds - 1), kernelNanos / 1e9 / Math.max(1, rounds - 1), transferNanos / 1e9 / Math.max(1, rounds - 1));
    }

    long lastRun() {
        return lastRun;
    }

    /** Whether a storage is a resident buffer of this cycle that the device may have changed. */
    boolean holdsOnDevice(Tensor.Storage storage) {
        FloatArray a = residentByStorage.get(storage);
        return a != null && segments.get(residentRange.get(a)[0]).executed;
    }

    /** Copies resident buffers back to their host arrays, an on-demand transfer from the segment owning each; returns the bytes. */
    synchronized long fetch(Collection<FloatArray> arrays) {
        long bytes = 0;
        if (arrays.isEmpty() || !started || closed) return bytes;
        Map<Integer, List<FloatArray>> byOwner = new LinkedHashMap<>();
        for (FloatArray a : arrays) {
            int[] r = residentRange.get(a);
            if (r == null || !segments.get(r[0]).executed) continue; // host I/O, or never uploaded: the host is current
            byOwner.computeIfAbsent(r[0], k -> new ArrayList<>()).add(a);
        }
        for (Map.Entry<Integer, List<FloatArray>> e : byOwner.entrySet()) {
            Execution.transferToHost(name, plan, lastResult, e.getKey(), e.getValue().toArray());
            for (FloatArray a : e.getValue()) {
                DeviceBuffers.copyOut(a, storageOf.get(a));
                bytes += 4L * a.getSize();
            }
        }
        return bytes;
    }

    /** {@link #fetch} for storages (the backend's syncToHost). */
    void fetchHost(Collection<Tensor.Storage> storages) {
        List<FloatArray> arrays = new ArrayList<>();
        for (Tensor.Storage h : storages) {
            FloatArray a = residentByStorage.get(h);
            if (a != null) arrays.add(a);
        }
        syncedBytes += fetch(arrays);
    }

    /**
     * The host wrote these arrays (a resume): if the device already holds any of them, every other
     * resident buffer is fetched and the cycle is rebuilt, so that its next run uploads the host's
     * values (TornadoVM 5.2 offers no host-to-device copy of a persisted buffer outside a run).
     */
    synchronized void hostWrote(Collection<Tensor.Storage> storages) {
        Set<FloatArray> written = identitySet();
        for (Tensor.Storage h : storages) {
            FloatArray a = residentByStorage.get(h);
            if (a != null && segments.get(residentRange.get(a)[0]).executed) written.add(a);
        }
        if (written.isEmpty()) return;
        List<FloatArray> keep = new ArrayList<>();
        for (FloatArray a : residentRange.keySet()) if (!written.contains(a)) keep.add(a);
        syncedBytes += fetch(keep);
        rebuild = true;
        nextPart = 0;
    }

    /** Every buffer this cycle uses (the backend drops the others when a cycle closes). */
    Set<FloatArray> buffers() {
        Set<FloatArray> all = identitySet();
        for (Segment s : segments) all.addAll(s.used);
        return all;
    }

    /** The storages copied to the device on every round, and those copied back (host I/O and read-back). */
    List<Set<Tensor.Storage>> perRoundStorages() {
        Set<Tensor.Storage> in = identitySet(), out = identitySet();
        for (Segment s : segments) {
            for (FloatArray a : s.in) in.add(storageOf.get(a));
            for (FloatArray a : s.out) out.add(storageOf.get(a));
        }
        for (Part p : parts) for (FloatArray a : p.readBack()) if (residentRange.containsKey(a)) out.add(storageOf.get(a));
        return List.of(in, out);
    }

    /** In words: tasks, TaskGraphs, and what crosses between host and device per round and once. */
    String summary() {
        int tasks = 0, in = 0, out = 0;
        long inBytes = 0, outBytes = 0, onceBytes = 0, readBackBytes = 0;
        for (Segment s : segments) {
            tasks += s.tasks.size();
            in += s.in.size();
            out += s.out.size();
            for (FloatArray a : s.in) inBytes += 4L * a.getSize();
            for (FloatArray a : s.out) outBytes += 4L * a.getSize();
            for (FloatArray a : s.firstUse) onceBytes += 4L * a.getSize();
        }
        int readBack = 0;
        for (Part p : parts) {
            for (FloatArray a : p.readBack()) {
                if (residentRange.containsKey(a)) {
                    readBack++;
                    readBackBytes += 4L * a.getSize();
                }
            }
        }
        StringBuilder graphs = new StringBuilder();
        for (int p = 0; p < parts.size(); p++) {
            graphs.append(p == 0 ? "" : ", ").append(graphName(p)).append(' ').append(partStart[p + 1] - partStart[p]);
        }
        // tasks per kernel, most first: each task is compiled on its own (TornadoVM 5.2 keys compiled code by task)
        Map<String, Integer> perKernel = new LinkedHashMap<>();
        for (Segment s : segments) for (TaskSink.Task t : s.tasks) perKernel.merge(t.id().substring(t.id().indexOf('_') + 1), 1, Integer::sum);
        String kernels = perKernel.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                .map(e -> e.getKey() + " " + e.getValue()).collect(java.util.stream.Collectors.joining(", "));
        return String.format(java.util.Locale.ROOT,
                "cycle '%s': %d tasks in %d TaskGraphs (%s; by kernel: %s); %d resident buffers (%d KiB, uploaded at most once); per round %d host-to-device transfers (%d KiB), "
                        + "%d device-to-host (%d KiB) + %d read back (%d KiB)",
                name, tasks, segments.size(), graphs, kernels, residentRange.size(), onceBytes / 1024, in, inBytes / 1024, out, outBytes / 1024, readBack, readBackBytes / 1024);
    }

    /** Called by each of its plans' close(); the last one frees the device buffers. */
    synchronized boolean release() {
        if (closed) return true;
        if (--openPlans > 0) return false;
        closed = true;
        if (PROFILE && rounds > 0) System.err.println("[erw tornado] " + profile());
        Execution.close(plan);
        return true;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        Execution.close(plan);
    }

    boolean isClosed() {
        return closed;
    }

    /** The readBack buffers of a graph: declared tensors, or every buffer the graph writes when it declared none. */
    static List<FloatArray> readBack(erw.engine.Graph graph, TaskSink sink) {
        Set<FloatArray> out = identitySet();
        List<Tensor> declared = graph.declaredReadBack();
        if (declared == null) {
            for (Map.Entry<FloatArray, Integer> e : sink.access().entrySet()) if ((e.getValue() & TaskSink.WRITE) != 0) out.add(e.getKey());
        } else {
            for (Tensor t : declared) {
                FloatArray a = sink.bufferOf(t.storage(false));
                if (a != null) out.add(a);
            }
        }
        return List.copyOf(out);
    }
}
