package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Host mirrors of device buffers: a storage without a host array, or whose host array is all zero when its
 * buffer is made, gets a zero-mapped mirror (no resident memory until written), and what reaches the device
 * is the same as with an eagerly filled one, including a host array written after the plan was compiled and a
 * mirror that a download wrote. What stays on the device (activations, their gradients, scratch) never gets a
 * host array; what the host reads back does.
 */
class DeviceBuffersTest {
    @Test
    void zeroHostArraysGetZeroMappedMirrorsThatBehaveLikeFilledOnes() {
        assertTrue(DeviceBuffers.LAZY, "-Derw.tornado.lazyMirrors is not set to false in the tests");
        DeviceBuffers buffers = new DeviceBuffers();
        int n = 1 << 20;
        Tensor.Storage zeroStorage = new Tensor.Storage(n), valueStorage = new Tensor.Storage(n);
        float[] zeros = zeroStorage.array(), values = valueStorage.array();
        for (int i = 0; i < n; i++) values[i] = i * 0.5f - 7f;

        FloatArray lazy = buffers.of(zeroStorage), eager = buffers.of(valueStorage);
        assertSame(lazy, buffers.of(zeroStorage), "one buffer per storage");
        assertNotSame(lazy, eager);
        assertEquals(n, lazy.getSize());
        long[] bytes = buffers.bytes();
        assertEquals(eager.getNumBytesOfSegmentWithHeader(), bytes[0], "filled mirrors");
        assertEquals(lazy.getNumBytesOfSegmentWithHeader(), bytes[1], "zero-mapped mirrors");
        assertTrue(bytes[2] >= 0 && bytes[2] <= 4096, "only the header's page is resident: " + bytes[2]);
        DeviceBuffers.upload(zeroStorage, lazy); // still all zero: nothing written
        assertEquals(bytes[2], buffers.bytes()[2], "a skipped upload touches nothing");
        assertTrue(allZero(lazy), "a zero-mapped mirror reads as zeros");
        Tensor.Storage back = new Tensor.Storage(n);
        DeviceBuffers.copyOut(eager, back);
        assertArrayEquals(values, back.array(), "a filled mirror holds the host's values");

        // first upload: a host array written since the buffer was made is copied
        zeros[n - 1] = 3f;
        zeros[5] = -0f; // -0 is not +0: copied
        DeviceBuffers.upload(zeroStorage, lazy);
        assertEquals(3f, lazy.get(n - 1));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(lazy.get(5)));

        assertTrue(buffers.bytes()[2] >= 4L * n, "written: resident");

        // a mirror a download wrote gets the host's values even where they are all zero again, as an eager copy would
        Tensor.Storage clearedStorage = new Tensor.Storage(n);
        FloatArray written = buffers.of(clearedStorage);
        assertNull(clearedStorage.arrayIfMade(), "making a buffer makes no host array");
        written.set(17, 1f); // what TornadoVM's device-to-host transfer does, then the host copy:
        DeviceBuffers.copyOut(written, clearedStorage);
        float[] cleared = clearedStorage.arrayIfMade();
        assertNotNull(cleared, "a download makes the host array");
        assertEquals(1f, cleared[17]);
        cleared[17] = 0f; // zeroed on the host afterwards
        DeviceBuffers.upload(clearedStorage, written);
        assertEquals(0f, written.get(17));
        assertTrue(allZero(written));

        // a storage without a host array uploads nothing and keeps none
        Tensor.Storage deviceOnly = new Tensor.Storage(n);
        FloatArray d = buffers.of(deviceOnly);
        DeviceBuffers.upload(deviceOnly, d);
        assertNull(deviceOnly.arrayIfMade());
        assertTrue(allZero(d));
    }

    private static boolean allZero(FloatArray a) {
        for (int i = 0; i < a.getSize(); i++) if (Float.floatToRawIntBits(a.get(i)) != 0) return false;
        return true;
    }

    @Test
    void isZeroLooksAtEveryElement() {
        for (int n : new int[]{1, 3, 4095, 4096, 4097, 10_001}) {
            for (int at : new int[]{0, n / 2, n - 1}) {
                float[] a = new float[n];
                assertTrue(DeviceBuffers.isZero(a));
                a[at] = Float.MIN_VALUE;
                assertFalse(DeviceBuffers.isZero(a), n + " at " + at);
                FloatArray m = DeviceBuffers.zeroMapped(n);
                assertNotNull(m, "zero-mapped mirrors need native access for erw.engine.tornado");
                assertEquals(n, m.getSize());
                assertTrue(allZero(m));
            }
        }
    }

    @Test
    void anInputWrittenAfterCompilingReachesTheDevice() {
        Backend backend = Parity.tornado();
        int n = 1 << 16;
        Tensor x = Tensor.input("x", n); // all zero when the plan makes its buffers: zero-mapped mirror
        Graph g = new Graph("late");
        Tensor y = g.scale("s", x, 2f);
        Tensor out = g.sum("sum", y);
        g.readBack(out);
        try (Plan p = backend.compile(g)) {
            assertTrue(backend.hostMirrorBytes()[1] >= 4L * n, "x's mirror is zero-mapped");
            for (int i = 0; i < n; i++) x.data()[i] = (i % 7) - 3;
            p.run();
            double want = 0;
            for (int i = 0; i < n; i++) want += 2 * ((i % 7) - 3);
            assertEquals(want, out.item(), 1e-3);
        }
    }

    @Test
    void whatStaysOnTheDeviceHasNoHostArrayUntilSynced() {
        Backend backend = Parity.tornado();
        int n = 1 << 12;
        Tensor x = Tensor.input("x", n);
        Graph g = new Graph("deviceOnly");
        Tensor y = g.scale("s", x, 2f);
        Tensor out = g.sum("sum", y);
        g.readBack(out);
        try (Plan p = backend.compile(g)) {
            for (int i = 0; i < n; i++) x.data()[i] = i % 5;
            p.run();
            double want = 0;
            for (int i = 0; i < n; i++) want += 2 * (i % 5);
            assertEquals(want, out.item(), 1e-2);
            assertNull(y.storage(false).arrayIfMade(), "y never crossed: no heap array");
            assertNotNull(out.storage(false).arrayIfMade(), "the read-back sum has one");
            backend.syncToHost(java.util.List.of(y));
            assertNotNull(y.storage(false).arrayIfMade(), "syncToHost makes it");
            for (int i = 0; i < n; i++) assertEquals(2f * (i % 5), y.data()[i], "y[" + i + "]");
        }
    }
}
