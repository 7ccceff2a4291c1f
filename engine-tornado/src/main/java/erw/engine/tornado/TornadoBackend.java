package erw.engine.tornado;

import erw.engine.Backend;
import erw.engine.BufferPlanner;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The TornadoVM backend: the graphs of a cycle (a training step's forward, backward, optimizer and
 * EMA; or one graph alone) become the TaskGraphs of one execution plan whose tasks are the kernels
 * of their ops, with every buffer but inputs and scalars resident on the device (see {@link TornadoCycle}).
 */
public final class TornadoBackend implements Backend {
    /** -Derw.tornado.verbose=true: one line per compiled cycle (TaskGraphs and transfers per round). */
    private static final boolean VERBOSE = Boolean.getBoolean("erw.tornado.verbose");

    /**
     * TornadoVM encodes each TaskGraph as a program in a buffer of {@code tornado.tvm.maxbytecodesize} bytes, 4 KiB
     * by default: a TaskGraph of more than about 8 of erw's tasks overflowed it, and TornadoVM reported only a
     * bailout (the limit that held erw at 8 tasks per TaskGraph). Unless set on the command line, erw asks for
     * 1 MiB, read when TornadoVM first builds a TaskGraph, which is after this.
     */
    static final int BYTECODE_BUFFER = 1 << 20;

    static {
        if (System.getProperty("tornado.tvm.maxbytecodesize") == null) System.setProperty("tornado.tvm.maxbytecodesize", Integer.toString(BYTECODE_BUFFER));
    }
    private final DeviceBuffers buffers = new DeviceBuffers();
    private final AtomicInteger graphs = new AtomicInteger();
    private final AtomicLong stamps = new AtomicLong();
    private final List<TornadoCycle> cycles = new ArrayList<>();
    private final WorkerPool host;
    private final boolean ownsHost;

    /** A backend whose host-side work runs on the process-wide pool. */
    public TornadoBackend() {
        this.host = WorkerPool.shared();
        this.ownsHost = false;
    }

    /** A backend with its own pool of {@code hostThreads} for host-side work (noise, sampler updates). */
    public TornadoBackend(int hostThreads) {
        this.host = new WorkerPool(hostThreads);
        this.ownsHost = true;
    }

    @Override
    public WorkerPool host() {
        return host;
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public Plan compile(Graph graph) {
        BufferPlanner.prepare(graph.name(), List.of(graph), BufferPlanner.sharesAlone(graph));
        return lower(graph.name(), List.of(graph), Set.of()).getFirst();
    }

    /** The graphs' activations share storages, hence device buffers, by liveness across the cycle ({@link BufferPlanner}). */
    @Override
    public List<Plan> compileCycle(String name, List<Graph> graphs) {
        return compileCycle(name, graphs, List.of());
    }

    @Override
    public List<Plan> compileCycle(String name, List<Graph> graphs, Collection<Tensor> hostGradients) {
        BufferPlanner.prepare(name, graphs, true);
        Set<Tensor.Storage> staged = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor t : hostGradients) staged.add(t.storage(true));
        return lower(name, graphs, staged);
    }

    private List<Plan> lower(String name, List<Graph> graphs, Set<Tensor.Storage> hostStaged) {
        List<TornadoCycle.Part> parts = new ArrayList<>();
        for (Graph g : graphs) {
            TaskSink sink = new TaskSink(buffers, hostStaged, RankDevice.libraryGemm());
            for (Op op : g.ops()) Lowerings.lower(op, sink);
            parts.add(new TornadoCycle.Part(g.name(), sink, TornadoCycle.readBack(g, sink)));
        }
        TornadoCycle cycle = new TornadoCycle(name, parts, this::graphId);
        synchronized (cycles) {
            cycles.add(cycle);
        }
        if (VERBOSE) System.err.println("[erw tornado] " + cycle.summary());
        List<Plan> plans = new ArrayList<>();
        for (int p = 0; p < graphs.size(); p++) plans.add(new TornadoPlan(cycle, p, this));
        return plans;
    }

    /** TaskGraph names are identifiers and unique within the process ("graph.task" keys the grids). */
    private String graphId(String name) {
        return "g" + graphs.getAndIncrement() + "_" + name.replaceAll("[^A-Za-z0-9]", "_");
    }

    long nextStamp() {
        return stamps.incrementAndGet();
    }

    /** The data and gradient storages of these tensors (the host arrays are made where a copy lands in them). */
    private static List<Tensor.Storage> storages(Collection<Tensor> tensors) {
        List<Tensor.Storage> storages = new ArrayList<>();
        for (Tensor t : tensors) {
            storages.add(t.storage(false));
            if (t.requiresGrad()) storages.add(t.storage(true));
        }
        return storages;
    }

    /** Data and gradients of these tensors from the cycle that ran last among those holding them on the device. */
    @Override
    public void syncToHost(Collection<Tensor> tensors) {
        List<TornadoCycle> open;
        synchronized (cycles) {
            open = new ArrayList<>(cycles);
        }
        open.sort((a, b) -> Long.compare(b.lastRun(), a.lastRun()));
        // one fetch per cycle: its on-demand transfers go per owning TaskGraph, not per array
        Map<TornadoCycle, List<Tensor.Storage>> byCycle = new LinkedHashMap<>();
        for (Tensor.Storage st : storages(tensors)) {
            for (TornadoCycle c : open) {
                if (c.holdsOnDevice(st)) {
                    byCycle.computeIfAbsent(c, k -> new ArrayList<>()).add(st);
                    break;
                }
            }
        }
        byCycle.forEach(TornadoCycle::fetchHost);
    }

    @Override
    public void syncToDevice(Collection<Tensor> tensors) {
        List<Tensor.Storage> written = storages(tensors);
        synchronized (cycles) {
            for (TornadoCycle c : cycles) c.hostWrote(written);
        }
    }

    @Override
    public long[] hostMirrorBytes() {
        return buffers.bytes();
    }

    /** A cycle's plans are all closed: forget the buffers no open cycle uses. */
    void closed(TornadoCycle cycle) {
        synchronized (cycles) {
            cycles.remove(cycle);
            Set<FloatArray> live = Collections.newSetFromMap(new IdentityHashMap<>());
            for (TornadoCycle c : cycles) live.addAll(c.buffers());
            buffers.retainOnly(live);
        }
    }

    @Override
    public void close() {
        synchronized (cycles) {
            for (TornadoCycle c : cycles) c.close();
            cycles.clear();
        }
        buffers.clear();
        if (ownsHost) host.close();
    }
}
