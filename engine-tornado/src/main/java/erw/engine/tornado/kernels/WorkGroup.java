package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;

/** Work-group helpers for KernelContext kernels (TornadoVM inlines them into each kernel). */
final class WorkGroup {
    private WorkGroup() {}

    /**
     * The sum of every lane's {@code v} over a work-group of {@code lanes} (a power of two) by a local-memory tree in a
     * fixed order, returned to every lane; {@code buf} is the kernel's local array of at least {@code lanes} floats, free
     * again on return.
     */
    static float sum(KernelContext ctx, float[] buf, int lid, int lanes, float v) {
        buf[lid] = v;
        ctx.localBarrier();
        for (int st = lanes >> 1; st > 0; st >>= 1) {
            if (lid < st) {
                buf[lid] += buf[lid + st];
            }
            ctx.localBarrier();
        }
        float total = buf[0];
        ctx.localBarrier();
        return total;
    }
}
