package erw.model;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;

class MemoryBudgetTest {
    /**
     * Garbage the collector has not reclaimed counts as "in use" in {@link MemoryBudget#available()};
     * a request that fits once it is collected must pass (a long study once stopped on a false refusal).
     */
    @Test
    void garbageDoesNotCauseARefusal() {
        long garbage = 32L << 20;
        for (int attempt = 0; attempt < 20; attempt++) {
            WeakReference<Object> canary = new WeakReference<>(new Object()); // cleared by any collection
            long roomBefore = MemoryBudget.available();
            byte[][] chunks = new byte[(int) (garbage >> 16)][];
            for (int i = 0; i < chunks.length; i++) chunks[i] = new byte[1 << 16];
            chunks = null; // all of it garbage now
            long room = MemoryBudget.available();
            if (canary.get() == null || roomBefore - room < garbage) continue; // a collection ran meanwhile: try again
            long need = room + garbage / 2; // more than is "left", less than is left once collected
            assertDoesNotThrow(() -> MemoryBudget.require(need, "the test's request", "none"));
            return;
        }
        throw new AssertionError("no attempt made 32 MiB of garbage without a collection running meanwhile");
    }

    @Test
    void moreThanTheHeapIsRefusedInOneLine() {
        long max = Runtime.getRuntime().maxMemory();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MemoryBudget.require(max + 1, "the test's request", "give it less"));
        assertTrue(e.getMessage().startsWith("the test's request needs an estimated "), e.getMessage());
        assertTrue(e.getMessage().endsWith(": give it less") && !e.getMessage().contains("\n"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.require(MemoryBudget.times(Long.MAX_VALUE, 2), "overflow", "none"));
    }
}
