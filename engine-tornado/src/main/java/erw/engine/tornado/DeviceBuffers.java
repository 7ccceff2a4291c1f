package erw.engine.tornado;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.Map;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * One TornadoVM {@link FloatArray} per host storage array (a root tensor's data, or its gradient),
 * shared by every TaskGraph of a backend. Views share their root's float[], so they map to the
 * same buffer. The engine keeps tensors on the heap, which TornadoVM cannot wrap zero-copy
 * (its arrays are off-heap segments with a header), so host and FloatArray are synced by copies.
 */
final class DeviceBuffers {
    private final Map<float[], FloatArray> byHost = new IdentityHashMap<>();

    /** The buffer for a host array, created (with the host's current contents) on first use. */
    synchronized FloatArray of(float[] host) {
        return byHost.computeIfAbsent(host, h -> {
            FloatArray a = new FloatArray(h.length);
            copyIn(h, a);
            return a;
        });
    }

    static void copyIn(float[] host, FloatArray a) {
        MemorySegment.copy(host, 0, a.getSegment(), ValueLayout.JAVA_FLOAT, 0, host.length);
    }

    static void copyOut(FloatArray a, float[] host) {
        MemorySegment.copy(a.getSegment(), ValueLayout.JAVA_FLOAT, 0, host, 0, host.length);
    }

    synchronized int size() {
        return byHost.size();
    }

    /** Drops the buffers not in {@code live} (those of closed plans), so their off-heap memory can go. */
    synchronized void retainOnly(java.util.Set<FloatArray> live) {
        byHost.values().removeIf(a -> !live.contains(a));
    }

    synchronized void clear() {
        byHost.clear();
    }
}
