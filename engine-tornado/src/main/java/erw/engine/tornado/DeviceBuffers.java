package erw.engine.tornado;

import erw.engine.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

/**
 * One TornadoVM {@link FloatArray} per {@link Tensor.Storage} (a root tensor's data, or its gradient, or a
 * planner slot's shared storage), shared by every TaskGraph of a backend. Views share their root's storage,
 * so they map to the same buffer. The engine keeps host values on the heap, which TornadoVM cannot wrap
 * zero-copy (its arrays are off-heap segments with a header), so a host array and its FloatArray are synced
 * by copies; a storage the host never uses has no host array at all (activations, their gradients, scratch:
 * the buffer is its only host-side memory).
 *
 * <p>A storage without a host array, or whose host array is all zero when its buffer is made (activations,
 * their gradients, optimizer moments, per-op scratch: most of a training step's memory), gets a
 * <em>zero-mapped</em> mirror: anonymous memory mapped without being touched, which reads as zeros and takes
 * no resident memory until something writes it. Its values on the device are the same as an eager copy's
 * (zeros until the first upload, which copies the host's values if it is no longer all zero by then); a mirror
 * that only ever receives an upload of zeros and never a download stays unresident. Before session 15 every
 * activation was held twice on the host (a heap array the host never used, and its mirror), three times with
 * PoCL, whose device memory is host memory. Needs native access for
 * {@code erw.engine.tornado} (which {@code ./erw} grants); without it, or with
 * {@code -Derw.tornado.lazyMirrors=false}, every mirror is allocated and filled eagerly. A backend that pins
 * host memory for transfers (TornadoVM's PTX and CUDA backends register every segment with
 * {@code cuMemHostRegister}) pages the mirrors in when it pins them; {@code -Dtornado.cuda.host.pinning=false}
 * turns that off on the CUDA backend.
 */
final class DeviceBuffers {
    static final boolean LAZY = !"false".equals(System.getProperty("erw.tornado.lazyMirrors"));
    private static final long PROT_READ_WRITE = 1 | 2, MAP_PRIVATE_ANONYMOUS_NORESERVE = 0x02 | 0x20 | 0x4000; // Linux (x86-64, AArch64)
    private static final MethodHandle MMAP, MUNMAP, MINCORE;
    private static final long PAGE = 4096; // mincore's unit on x86-64 and 4 KiB AArch64 kernels; see residentBytes
    /** The zero-mapped mirrors made so far (weakly held: closed plans drop theirs). */
    private static final Set<FloatArray> ZERO_MAPPED = weakSet();
    /** Zero-mapped mirrors nothing has written yet: no host values copied in, no device values copied back. */
    private static final Set<FloatArray> PRISTINE = weakSet();

    static {
        MethodHandle map = null, unmap = null, mincore = null;
        if (LAZY && System.getProperty("os.name", "").startsWith("Linux") && DeviceBuffers.class.getModule().isNativeAccessEnabled()) {
            try {
                Linker linker = Linker.nativeLinker();
                var lookup = linker.defaultLookup();
                map = linker.downcallHandle(lookup.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                unmap = linker.downcallHandle(lookup.find("munmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_LONG));
                mincore = linker.downcallHandle(lookup.find("mincore").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
            } catch (RuntimeException e) { // no such symbol, no linker: eager mirrors
                map = null;
                unmap = null;
                mincore = null;
            }
        }
        MMAP = map;
        MUNMAP = unmap;
        MINCORE = mincore;
    }

    private static Set<FloatArray> weakSet() {
        return Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
    }

    private final Map<Tensor.Storage, FloatArray> byStorage = new IdentityHashMap<>();

    /** The buffer of a storage, created (with its host array's current contents, zeros when it has none) on first use. */
    synchronized FloatArray of(Tensor.Storage storage) {
        return byStorage.computeIfAbsent(storage, st -> {
            float[] h = st.arrayIfMade();
            if (h == null || isZero(h)) {
                FloatArray z = zeroMapped(st.size());
                if (z != null) return z;
            }
            FloatArray a = new FloatArray(st.size()); // zero-filled
            if (h != null) copyIn(h, a);
            return a;
        });
    }

    /** A FloatArray of {@code n} zeros on untouched anonymous memory, unmapped when it becomes unreachable; null where that cannot be made. */
    static FloatArray zeroMapped(int n) {
        if (MMAP == null) return null;
        long bytes = TornadoNativeArray.ARRAY_HEADER + 4L * n;
        try {
            MemorySegment p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, (int) PROT_READ_WRITE, (int) MAP_PRIVATE_ANONYMOUS_NORESERVE, -1, 0L);
            if (p.address() == -1L || p.address() == 0L) return null; // MAP_FAILED
            MemorySegment seg = p.reinterpret(bytes, Arena.ofAuto(), s -> unmap(s, bytes));
            FloatArray a = FloatArray.fromSegmentShallow(seg);
            ZERO_MAPPED.add(a);
            PRISTINE.add(a);
            return a;
        } catch (Throwable e) {
            return null;
        }
    }

    private static void unmap(MemorySegment s, long bytes) {
        try {
            int rc = (int) MUNMAP.invokeExact(s, bytes);
            assert rc == 0;
        } catch (Throwable e) {
            // nothing to be done in a cleaner: the mapping stays until the process ends
        }
    }

    /** Whether every element of {@code a} is +0 (bit pattern 0; -0 and NaN are not). */
    static boolean isZero(float[] a) {
        int bits = 0;
        for (int i = 0; i < a.length; i++) {
            bits |= Float.floatToRawIntBits(a[i]);
            if ((i & 4095) == 4095 && bits != 0) return false;
        }
        return bits == 0;
    }

    /**
     * The host's values into the mirror before a buffer's first upload (FIRST_EXECUTION sends what the mirror
     * holds). A storage without a host array has never held anything but zeros on the host, and every download
     * makes its array ({@link #copyOut}), so its mirror holds zeros: nothing to copy. A mirror nothing has
     * written yet holds zeros too, so where the host array is still all zero the copy would change nothing and
     * is skipped: the mirror stays untouched (what the transfer then reads is the kernel's shared zero page, on
     * kernels that map one for reads of untouched anonymous memory).
     */
    static void upload(Tensor.Storage storage, FloatArray a) {
        float[] host = storage.arrayIfMade();
        if (host == null || PRISTINE.contains(a) && isZero(host)) return;
        copyIn(host, a);
    }

    /** The host array's values into a mirror (every write of a mirror from the host goes through here). */
    static void copyIn(Tensor.Storage storage, FloatArray a) {
        copyIn(storage.array(), a);
    }

    private static void copyIn(float[] host, FloatArray a) {
        PRISTINE.remove(a);
        MemorySegment.copy(host, 0, a.getSegment(), ValueLayout.JAVA_FLOAT, 0, host.length);
    }

    /**
     * A mirror's values into the storage's host array (made if it had none), after TornadoVM copied the device's into
     * the mirror (every download pairs with this).
     */
    static void copyOut(FloatArray a, Tensor.Storage storage) {
        PRISTINE.remove(a);
        float[] host = storage.array();
        MemorySegment.copy(a.getSegment(), ValueLayout.JAVA_FLOAT, 0, host, 0, host.length);
    }

    /** Resident bytes of a zero-mapped mirror (mincore; 4 KiB pages, so on a kernel of larger pages an upper bound); -1 where unknown. */
    static long residentBytes(FloatArray a) {
        if (MINCORE == null || !ZERO_MAPPED.contains(a)) return -1;
        MemorySegment seg = a.getSegmentWithHeader();
        long pages = (seg.byteSize() + PAGE - 1) / PAGE;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(pages);
            if ((int) MINCORE.invokeExact(seg, pages * PAGE, vec) != 0) return -1;
            long resident = 0;
            for (long i = 0; i < pages; i++) resident += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
            return resident * PAGE;
        } catch (Throwable e) {
            return -1;
        }
    }

    synchronized int size() {
        return byStorage.size();
    }

    /**
     * Bytes of the mirrors: {allocated and filled, zero-mapped, of those resident, the host arrays of the buffers'
     * storages (on the Java heap)} (the third -1 where mincore is not at hand). A zero-mapped mirror is resident where
     * written, read on a kernel without a shared zero page, or pinned.
     */
    synchronized long[] bytes() {
        long eager = 0, lazy = 0, resident = 0, heap = 0;
        for (Tensor.Storage st : byStorage.keySet()) if (st.arrayIfMade() != null) heap += 4L * st.size();
        for (FloatArray a : byStorage.values()) {
            if (ZERO_MAPPED.contains(a)) {
                lazy += a.getNumBytesOfSegmentWithHeader();
                long r = residentBytes(a);
                resident = r < 0 || resident < 0 ? -1 : resident + r;
            } else {
                eager += a.getNumBytesOfSegmentWithHeader();
            }
        }
        return new long[]{eager, lazy, resident, heap};
    }

    /** Drops the buffers not in {@code live} (those of closed plans), so their off-heap memory can go. */
    synchronized void retainOnly(java.util.Set<FloatArray> live) {
        byStorage.values().removeIf(a -> !live.contains(a));
    }

    synchronized void clear() {
        byStorage.clear();
    }
}
