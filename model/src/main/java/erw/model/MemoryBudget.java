package erw.model;

/**
 * Refuses work whose estimated memory the JVM cannot hold, before anything is allocated: the engine
 * keeps tensors as heap arrays, so the limit is the heap ({@code -Xmx}; the {@code erw} launcher lets it grow to 85% of RAM).
 * Without this a model config with depth 10^9 or a batch of 10^6 runs until the JVM dies with an
 * {@link OutOfMemoryError} and a stack trace; with it the user gets the estimate in one line.
 */
public final class MemoryBudget {
    private MemoryBudget() {}

    /**
     * Bytes the heap can still grow into: the maximum heap less what is in use now, garbage included
     * (a cheap upper bound on what is live; {@link #require} collects before it refuses).
     */
    public static long available() {
        Runtime rt = Runtime.getRuntime();
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }

    /**
     * Throws {@link IllegalArgumentException} naming {@code what}, the estimate and the room left when
     * {@code bytes} do not fit; {@code advice} says what the user can change. "In use" counts garbage
     * the collector has not reclaimed yet, so before refusing it asks for a full collection and
     * measures again: a long study in one JVM (a scoring's model built right after a run's arrays were
     * dropped) once stopped here with 30 MiB "left" of an 8 GiB heap that was mostly garbage.
     */
    public static void require(long bytes, String what, String advice) {
        long room = available();
        if (bytes >= 0 && bytes > room) {
            System.gc();
            room = available();
        }
        if (bytes < 0 || bytes > room) {
            throw new IllegalArgumentException(what + " needs an estimated " + (bytes < 0 ? "more than 8 EiB" : ModelSizes.human(bytes))
                    + " but this JVM has " + ModelSizes.human(Math.max(0, room)) + " left (max heap " + ModelSizes.human(Runtime.getRuntime().maxMemory())
                    + "): " + advice);
        }
    }

    /** a * b, or -1 when it overflows a long (so that {@link #require} refuses it). */
    public static long times(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            return -1;
        }
    }
}
