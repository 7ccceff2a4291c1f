package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.common.TornadoFunctions;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * What lowering one recorded graph produces: the tasks in order (added to a TaskGraph later, once
 * the buffers they touch are known), the work-group shape of each KernelContext task, which host
 * buffers are read and written, device-only scratch buffers, and host-side checks of inputs.
 */
final class TaskSink {
    /** How a task uses a host-backed buffer. */
    static final int READ = 1, WRITE = 2;

    /** A task: the adder calls {@code graph.task(id, kernel, args...)}; {@code buffers} are the FloatArrays among its arguments. */
    record Task(String id, String opName, BiConsumer<TaskGraph, String> adder, List<FloatArray> buffers) {}

    private final DeviceBuffers buffers;
    private final List<Task> tasks = new ArrayList<>();
    private final Map<String, WorkerGrid> grids = new LinkedHashMap<>();
    private final Map<FloatArray, Tensor.Storage> storageOf = new IdentityHashMap<>();
    private final Map<Tensor.Storage, FloatArray> bufferOf = new IdentityHashMap<>();
    private final Map<FloatArray, Integer> access = new IdentityHashMap<>();
    private final Map<FloatArray, Tensor> tensorOf = new IdentityHashMap<>();
    private final java.util.Set<FloatArray> hostIO = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<FloatArray> scratch = new ArrayList<>();
    private final List<Runnable> hostChecks = new ArrayList<>();
    private String currentOp = "?";

    /** Storages this graph copies in and out like inputs although their tensors are not inputs (a data-parallel rank's gradients). */
    private final java.util.Set<Tensor.Storage> hostStaged;

    /** Whether GEMMs go to cuBLAS as library tasks (TornadoVM's CUDA backend) instead of the JIT-compiled GEMM kernel. */
    private final boolean libraryGemm;

    TaskSink(DeviceBuffers buffers, java.util.Set<Tensor.Storage> hostStaged, boolean libraryGemm) {
        this.buffers = buffers;
        this.hostStaged = hostStaged;
        this.libraryGemm = libraryGemm;
    }

    boolean libraryGemm() {
        return libraryGemm;
    }

    void beginOp(String opName) {
        this.currentOp = opName;
    }

    /** Lowering touches no host array: a storage gets one only where the host copies values in or out (see {@link DeviceBuffers}). */
    private FloatArray use(Tensor t, Tensor.Storage storage, int mode) {
        FloatArray a = register(storage, mode);
        tensorOf.putIfAbsent(a, t);
        if (storage == t.storage(false) && (t.kind() == Tensor.Kind.INPUT || t.kind() == Tensor.Kind.SCALAR) || hostStaged.contains(storage)) hostIO.add(a);
        return a;
    }

    private FloatArray register(Tensor.Storage storage, int mode) {
        FloatArray a = buffers.of(storage);
        storageOf.put(a, storage);
        bufferOf.put(storage, a);
        access.merge(a, mode, (x, y) -> x | y);
        return a;
    }

    /** The tensor's data, read by the next task. */
    FloatArray read(Tensor t) {
        return use(t, t.storage(false), READ);
    }

    /** The tensor's data, overwritten by the next task. */
    FloatArray write(Tensor t) {
        return use(t, t.storage(false), WRITE);
    }

    /** The tensor's data, read and written (in-place updates, accumulation). */
    FloatArray update(Tensor t) {
        return use(t, t.storage(false), READ | WRITE);
    }

    private Tensor.Storage gradOf(Tensor t) {
        Tensor.Storage g = t.storage(true);
        if (g == null) throw new EngineException("TornadoVM backend, op '" + currentOp + "': tensor " + t + " has no gradient buffer");
        return g;
    }

    FloatArray gradRead(Tensor t) {
        return use(t, gradOf(t), READ);
    }

    /** A gradient that the next task writes whole (its first write in a backward sweep). */
    FloatArray gradWrite(Tensor t) {
        return use(t, gradOf(t), WRITE);
    }

    /** A gradient that the next task accumulates into. */
    FloatArray gradUpdate(Tensor t) {
        return use(t, gradOf(t), READ | WRITE);
    }

    /** The gradient to accumulate into when t wants one, else a dummy the kernel leaves alone (flag 0). */
    FloatArray gradUpdateOrDummy(Tensor t) {
        return t != null && t.requiresGrad() ? gradUpdate(t) : dummy();
    }

    /**
     * A buffer for per-op statistics (row norms, log-sum-exps) passed between the tasks of one op.
     * It has a private storage (never a host array) so that it crosses TaskGraph segments like any tensor.
     */
    FloatArray scratch(int n) {
        FloatArray a = register(new Tensor.Storage(Math.max(1, n)), READ | WRITE);
        scratch.add(a);
        return a;
    }

    private final Map<String, FloatArray> shared = new java.util.HashMap<>();

    /**
     * A scratch buffer of {@code n} floats shared by every op of this graph that asks for the same {@code key} and size:
     * for working buffers an op fills and reads within its own tasks (attention's per-head slabs and scores), which ops
     * running one after another can reuse instead of holding one each.
     */
    FloatArray sharedScratch(String key, int n) {
        return shared.computeIfAbsent(key + "/" + n, k -> scratch(n));
    }

    private final Map<Integer, FloatArray> onesVectors = new java.util.HashMap<>();

    /**
     * A read-only buffer of {@code n} ones, its host array filled once (uploaded with the graph's first run, like any
     * resident buffer): the "no factor" of a scale and unused optional operands ({@code n} = 1), and the vector that GEMMs
     * adding a bias row or summing columns multiply by ({@link LinearAlgebraLowering#biasByGemm}).
     */
    FloatArray onesVector(int n) {
        return onesVectors.computeIfAbsent(n, k -> {
            Tensor.Storage ones = new Tensor.Storage(k);
            java.util.Arrays.fill(ones.array(), 1f);
            return register(ones, READ);
        });
    }

    /** A one-element buffer holding 1. */
    FloatArray ones() {
        return onesVector(1);
    }

    FloatArray dummy() {
        return ones();
    }

    /**
     * Appends a task running {@code code} on these arguments (one overload per arity, mirroring
     * {@link TaskGraph#task}): the arguments are known here, so the buffers each task touches are
     * too, which cuts a graph into TaskGraph segments with only their own transfers.
     */
    <T1> String task(String kernel, TornadoFunctions.Task1<T1> code, T1 a1) {
        return add(kernel, (g, id) -> g.task(id, code, a1), a1);
    }

    <T1, T2> String task(String kernel, TornadoFunctions.Task2<T1, T2> code, T1 a1, T2 a2) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2), a1, a2);
    }

    <T1, T2, T3> String task(String kernel, TornadoFunctions.Task3<T1, T2, T3> code, T1 a1, T2 a2, T3 a3) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3), a1, a2, a3);
    }

    <T1, T2, T3, T4> String task(String kernel, TornadoFunctions.Task4<T1, T2, T3, T4> code, T1 a1, T2 a2, T3 a3, T4 a4) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4), a1, a2, a3, a4);
    }

    <T1, T2, T3, T4, T5> String task(String kernel, TornadoFunctions.Task5<T1, T2, T3, T4, T5> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5), a1, a2, a3, a4, a5);
    }

    <T1, T2, T3, T4, T5, T6> String task(String kernel, TornadoFunctions.Task6<T1, T2, T3, T4, T5, T6> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6), a1, a2, a3, a4, a5, a6);
    }

    <T1, T2, T3, T4, T5, T6, T7> String task(String kernel, TornadoFunctions.Task7<T1, T2, T3, T4, T5, T6, T7> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7), a1, a2, a3, a4, a5, a6, a7);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8> String task(String kernel, TornadoFunctions.Task8<T1, T2, T3, T4, T5, T6, T7, T8> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8), a1, a2, a3, a4, a5, a6, a7, a8);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9> String task(String kernel, TornadoFunctions.Task9<T1, T2, T3, T4, T5, T6, T7, T8, T9> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9), a1, a2, a3, a4, a5, a6, a7, a8, a9);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> String task(String kernel, TornadoFunctions.Task10<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> String task(String kernel, TornadoFunctions.Task11<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> String task(String kernel, TornadoFunctions.Task12<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> String task(String kernel, TornadoFunctions.Task13<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> String task(String kernel, TornadoFunctions.Task14<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15> String task(String kernel, TornadoFunctions.Task15<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16> String task(String kernel, TornadoFunctions.Task16<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17> String task(String kernel, TornadoFunctions.Task17<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18> String task(String kernel, TornadoFunctions.Task18<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19> String task(String kernel, TornadoFunctions.Task19<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19);
    }

    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20> String task(String kernel, TornadoFunctions.Task20<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19, T20 a20) {
        return add(kernel, (g, id) -> g.task(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20), a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20);
    }

    /**
     * Appends a library task ({@link TaskGraph#libraryTask}): a call into a native library that the CUDA backend runs on
     * the same buffers and stream as the kernels around it (erw's one: {@link Cublas#gemm}).
     */
    <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17> String libraryTask(String kernel,
            TornadoFunctions.LibraryTask17<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17> code,
            T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17) {
        return add(kernel, (g, id) -> g.libraryTask(id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17),
                a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17);
    }

    private String add(String kernel, BiConsumer<TaskGraph, String> adder, Object... args) {
        String id = "t" + tasks.size() + "_" + kernel;
        List<FloatArray> used = new ArrayList<>();
        for (Object a : args) if (a instanceof FloatArray f && used.stream().noneMatch(u -> u == f)) used.add(f);
        tasks.add(new Task(id, currentOp, adder, List.copyOf(used)));
        return id;
    }

    /** A KernelContext task over a 1-D grid: global size rounded up to a multiple of local. */
    void grid1(String id, long global, int local) {
        WorkerGrid g = new WorkerGrid1D((int) roundUp(global, local));
        g.setLocalWork(local, 1, 1);
        grids.put(id, g);
    }

    void grid3(String id, long globalX, long globalY, long globalZ, int localX, int localY) {
        WorkerGrid g = new WorkerGrid3D((int) roundUp(globalX, localX), (int) roundUp(globalY, localY), (int) roundUp(globalZ, 1));
        g.setLocalWork(localX, localY, 1);
        grids.put(id, g);
    }

    void grid2(String id, long globalX, long globalY, int localX, int localY) {
        WorkerGrid g = new WorkerGrid2D((int) roundUp(globalX, localX), (int) roundUp(globalY, localY));
        g.setLocalWork(localX, localY, 1);
        grids.put(id, g);
    }

    private static long roundUp(long n, int m) {
        long r = (Math.max(1, n) + m - 1) / m * m;
        if (r > Integer.MAX_VALUE) throw new EngineException("TornadoVM backend: grid of " + r + " work-items is too large");
        return r;
    }

    /** A check run on the host before each run (e.g. index ranges of host-written inputs). */
    void hostCheck(Runnable check) {
        hostChecks.add(check);
    }

    List<Task> tasks() {
        return tasks;
    }

    Map<String, WorkerGrid> grids() {
        return grids;
    }

    /** Host-backed buffers in first-use order with their access mode. */
    Map<FloatArray, Integer> access() {
        return access;
    }

    /**
     * Whether a buffer is host I/O: the data of an INPUT or SCALAR tensor, written by the host
     * between runs (a batch, the learning rate) or read by it (the gradient norm). Every other
     * buffer (weights, gradients, state, activations, an op's {@link Tensor.Kind#SAVED} statistics) can stay resident on the device.
     */
    boolean isHostIO(FloatArray a) {
        return hostIO.contains(a);
    }

    /** The buffer of a storage if this graph uses it, else null. */
    FloatArray bufferOf(Tensor.Storage storage) {
        return bufferOf.get(storage);
    }

    Tensor.Storage storage(FloatArray a) {
        return storageOf.get(a);
    }

    Tensor tensor(FloatArray a) {
        return tensorOf.get(a);
    }

    List<FloatArray> scratchBuffers() {
        return scratch;
    }

    List<Runnable> hostChecks() {
        return hostChecks;
    }

    String currentOp() {
        return currentOp;
    }

    /** For errors: the op that a task was lowered from. */
    String opOf(String taskId) {
        for (Task t : tasks) if (t.id().equals(taskId)) return t.opName();
        return "?";
    }
}
