package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;

/** Work-group helpers for KernelContext kernels (TornadoVM inlines them into each kernel). */
final class WorkGroup {
    private WorkGroup() {}

    /** The most lanes {@link #sum} takes. */
    static final int MAX_LANES = 256;

    /**
     * The sum of every lane's {@code v} over a work-group of {@code lanes} (a power of two, at most {@link #MAX_LANES}) by a
     * local-memory tree in a fixed order, returned to every lane.
     *
     * <p>The local array is allocated where it is indexed ({@link #tree}), never passed in: TornadoVM 5.2 (its CUDA and OpenCL backends
     * alike) lowers an access to a local array that reached a method as a parameter like one to a global Java array, a byte
     * offset past an array header ({@code buf[(lid << 2) + 16]} on a {@code __shared__ float buf[256]}), up to four times past
     * the array. Each lane's slot stayed distinct, so the sums came out right wherever the memory past the array was usable
     * (the parity tests passed on PoCL, and on an H200 with NVIDIA's OpenCL and with PTX), but the access is out of bounds
     * (found in the kernels' CUDA
     * source by {@code tools/gpu/cuda-codegen}, which now rejects that form). Each call takes its own 1 KiB of local memory.
     */
    static float sum(KernelContext ctx, int lid, int lanes, float v) {
        return tree(ctx, lid, lanes, v, 0);
    }

    /** The largest of every lane's {@code v}, as {@link #sum} (its own local array, the same tree). */
    static float max(KernelContext ctx, int lid, int lanes, float v) {
        return tree(ctx, lid, lanes, v, 1);
    }

    /** The tree of {@link #sum} ({@code max} 0) and {@link #max} (1): a constant at each call, folded by TornadoVM. */
    private static float tree(KernelContext ctx, int lid, int lanes, float v, int max) {
        float[] buf = ctx.allocateFloatLocalArray(MAX_LANES);
        buf[lid] = v;
        ctx.localBarrier();
        for (int st = lanes >> 1; st > 0; st >>= 1) {
            if (lid < st) {
                if (max == 1) {
                    buf[lid] = TornadoMath.max(buf[lid], buf[lid + st]);
                } else {
                    buf[lid] += buf[lid + st];
                }
            }
            ctx.localBarrier();
        }
        float total = buf[0];
        ctx.localBarrier();
        return total;
    }
}
