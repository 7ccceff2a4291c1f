package erw.engine;

import java.util.Arrays;

/**
 * A named device buffer: flat fp32 storage with a fixed shape, and (when it takes part in
 * differentiation) a gradient buffer of the same size. Views share both buffers.
 *
 * <p>The CPU backend keeps the storage on the heap ({@code float[]}), which is what the Vector API
 * and TornadoVM's array wrappers read fastest; a TornadoVM plan maps each tensor to one device
 * buffer, so every parameter is its own tensor (library GEMMs cannot take offsets).
 *
 * <p>Storage is allocated on first use, not when the tensor is recorded: a graph can be recorded
 * and sized without its memory ({@code erw model} for SiT-XL/2 on a laptop), and {@link BufferPlanner}
 * can give tensors whose lifetimes do not overlap one shared {@link Storage} when a plan is compiled. A
 * storage's host array is made only when something uses it on the host ({@link #data()}, {@link #grad()}),
 * so what a device backend keeps on the device alone never takes heap. Once a tensor has storage it keeps
 * it for good; {@code data().length == size()} always holds (kernels on both backends rely on it).
 */
public final class Tensor {

    /** What a buffer holds; decides who writes it and whether it is zeroed before a backward pass. */
    public enum Kind {
        /** A trained parameter: its gradient accumulates across backward passes until zeroed. */
        PARAM,
        /** Data copied in from the host per step (a batch, labels, targets). */
        INPUT,
        /** Produced by an op of a graph. */
        ACTIVATION,
        /** A step-varying scalar (learning rate, lambda, step count) set from the host. */
        SCALAR,
        /** Persistent non-trained state (optimizer moments, EMA weights, fixed tables). */
        STATE,
        /**
         * What an op's forward keeps for its backward (LayerNorm's row statistics, attention's
         * log-sum-exps): written by the forward, read by the vector-Jacobian product, never by the host.
         */
        SAVED
    }

    private final String name;
    private final int[] shape;
    private final int size;
    private final Kind kind;
    private final boolean requiresGrad;
    private final Tensor base;
    /** The root's storage (null on views, and until first use or binding); volatile for the lock-free reads of {@link #data()}. */
    private volatile Storage data, grad;

    /**
     * The storage of a root tensor's data or gradient: its identity is what a plan's buffers are keyed by (tensors
     * that a {@link BufferPlanner} slot groups share one), and its host array is made on the first host use. A
     * device backend that keeps a storage on the device and never reads or writes it from the host (activations,
     * their gradients, scratch) never makes the array: on a GPU the activations then take device memory only, not
     * also as much again of Java heap.
     */
    public static final class Storage {
        private final int size;
        /** The planner's slot whose tensors share this storage, or null when it is one tensor's own. */
        private final BufferPlanner.Slot slot;
        private volatile float[] array;

        /** Storage of {@code size} floats of its own (a backend's per-op scratch). */
        public Storage(int size) {
            this(size, null);
        }

        Storage(int size, BufferPlanner.Slot slot) {
            this.size = size;
            this.slot = slot;
        }

        public int size() {
            return size;
        }

        /** The host array (all zeros when made here). */
        public float[] array() {
            float[] a = array;
            return a != null ? a : make();
        }

        private synchronized float[] make() {
            if (array == null) array = new float[size];
            return array;
        }

        /** The host array if anything has made it yet, else null (then the storage has never held anything but zeros on the host). */
        public float[] arrayIfMade() {
            return array;
        }

        BufferPlanner.Slot slot() {
            return slot;
        }
    }

    private Tensor(String name, int[] shape, int size, Kind kind, boolean requiresGrad, Tensor base) {
        this.name = name;
        this.shape = shape;
        this.size = size;
        this.kind = kind;
        this.requiresGrad = requiresGrad;
        this.base = base;
    }

    static int checkedSize(String name, int[] shape) {
        if (shape.length == 0) return 1;
        long n = 1;
        for (int d : shape) {
            if (d <= 0) throw new EngineException("tensor '" + name + "': shape " + Arrays.toString(shape) + " has a non-positive dimension");
            n *= d;
            if (n > Integer.MAX_VALUE - 16) throw new EngineException("tensor '" + name + "': shape " + Arrays.toString(shape) + " has more than 2^31 elements");
        }
        return (int) n;
    }

    public static Tensor create(String name, Kind kind, boolean requiresGrad, int... shape) {
        return new Tensor(name, shape.clone(), checkedSize(name, shape), kind, requiresGrad, null);
    }

    /** A trained parameter (with a gradient buffer). */
    public static Tensor param(String name, int... shape) {
        return create(name, Kind.PARAM, true, shape);
    }

    /** Host-filled data without gradient. */
    public static Tensor input(String name, int... shape) {
        return create(name, Kind.INPUT, false, shape);
    }

    /** Host-filled data whose gradient is wanted (gradient checks, inputs of interest). */
    public static Tensor inputWithGrad(String name, int... shape) {
        return create(name, Kind.INPUT, true, shape);
    }

    /** A one-element step-varying scalar. */
    public static Tensor scalar(String name, float value) {
        Tensor t = create(name, Kind.SCALAR, false, 1);
        t.data()[0] = value;
        return t;
    }

    /** Persistent state without gradient (optimizer moments, EMA copies, fixed tables). */
    public static Tensor state(String name, int... shape) {
        return create(name, Kind.STATE, false, shape);
    }

    /** Statistics an op's forward saves for its backward (created when the op is recorded). */
    public static Tensor saved(String name, int... shape) {
        return create(name, Kind.SAVED, false, shape);
    }

    /** A view with another shape of the same number of elements, sharing data and gradient. */
    public Tensor view(String viewName, int... newShape) {
        int n = checkedSize(viewName, newShape);
        if (n != size) {
            throw new EngineException("view '" + viewName + "' of '" + name + "': shape " + Arrays.toString(newShape)
                    + " has " + n + " elements, the tensor " + Arrays.toString(shape) + " has " + size);
        }
        return new Tensor(viewName, newShape.clone(), n, kind, requiresGrad, root());
    }

    /** The tensor this one is a view of, or itself. */
    public Tensor root() {
        return base == null ? this : base;
    }

    public String name() {
        return name;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int size() {
        return size;
    }

    /** Size of the last dimension (the feature axis). */
    public int cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Number of rows when seen as a matrix (all leading dimensions collapsed). */
    public int rows() {
        return size / cols();
    }

    public Kind kind() {
        return kind;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** The storage's host array (the root's, made on first use); kernels and the host read and write it directly. */
    public float[] data() {
        Storage s = root().data; // kernels call this per op: no lock once the storage exists
        return (s != null ? s : storage(false)).array();
    }

    /** The gradient's host array (made on first use), or null when this tensor does not take part in differentiation. */
    public float[] grad() {
        if (!requiresGrad) return null;
        Storage g = root().grad;
        return (g != null ? g : storage(true)).array();
    }

    /**
     * The root's data (or gradient) storage, created (without a host array) if it has none yet; null for the gradient
     * of a tensor that does not take part in differentiation.
     */
    public Storage storage(boolean gradient) {
        if (gradient && !requiresGrad) return null;
        Tensor r = root();
        synchronized (r) {
            Storage s = gradient ? r.grad : r.data;
            if (s == null) {
                s = new Storage(size);
                if (gradient) r.grad = s;
                else r.data = s;
            }
            return s;
        }
    }

    /** Whether the root's data (or gradient) has storage yet: by a use, or bound by a planner. */
    boolean hasStorage(boolean gradient) {
        Tensor r = root();
        synchronized (r) {
            return (gradient ? r.grad : r.data) != null;
        }
    }

    /** The planner's slot of the root's data (or gradient), or null when it has its own storage. */
    BufferPlanner.Slot slot(boolean gradient) {
        Tensor r = root();
        synchronized (r) {
            Storage s = gradient ? r.grad : r.data;
            return s == null ? null : s.slot();
        }
    }

    /** Gives the root's data (or gradient) a planner slot's shared storage; only before it has storage. */
    void bind(boolean gradient, Storage shared) {
        Tensor r = root();
        if (shared.size() != size) throw new IllegalStateException("binding " + name + " of " + size + " floats to storage of " + shared.size());
        synchronized (r) {
            if ((gradient ? r.grad : r.data) != null) throw new IllegalStateException((gradient ? "gradient of " : "") + name + " already has storage");
            if (gradient) r.grad = shared;
            else r.data = shared;
        }
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    /** Copies host data in, checking the length. */
    public void copyFrom(float[] src) {
        if (src.length != size) {
            throw new EngineException("buffer '" + name + "': expected " + size + " floats for shape " + shapeString() + ", got " + src.length);
        }
        System.arraycopy(src, 0, data(), 0, size);
    }

    /** Copies {@code size()} floats in from {@code src[off..]}. */
    public void copyFrom(float[] src, int off) {
        if (off < 0 || off + size > src.length) {
            throw new EngineException("buffer '" + name + "': need " + size + " floats from offset " + off + ", source has " + src.length);
        }
        System.arraycopy(src, off, data(), 0, size);
    }

    public float[] toArray() {
        return data().clone();
    }

    public float item() {
        if (size != 1) throw new EngineException("tensor '" + name + "' of shape " + shapeString() + " is not a scalar");
        return data()[0];
    }

    public void set(float v) {
        if (size != 1) throw new EngineException("tensor '" + name + "' of shape " + shapeString() + " is not a scalar");
        data()[0] = v;
    }

    public void zeroGrad() {
        Storage s = requiresGrad ? root().grad : null;
        float[] g = s == null ? null : s.arrayIfMade();
        if (g != null) Arrays.fill(g, 0f);
    }

    @Override
    public String toString() {
        return name + shapeString();
    }
}
