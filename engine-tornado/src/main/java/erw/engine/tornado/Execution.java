package erw.engine.tornado;

import erw.engine.EngineException;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;

/** Runs TornadoVM execution plans, turning TornadoVM's failures into one clear engine error. */
final class Execution {
    private Execution() {}

    /**
     * TornadoVM's virtual device ({@code -Dtornado.virtual.device=true}): code generation without the device.
     * TornadoVM then runs every execution as a warm-up (each task compiled, nothing allocated, copied or
     * launched) and has no memory to copy from, so host transfers are skipped: the process's numbers are
     * meaningless, its generated kernels ({@code -Dtornado.printKernel=true}) are what it is run for
     * ({@code tools/gpu/cuda-codegen}).
     */
    static final boolean VIRTUAL_DEVICE = Boolean.getBoolean("tornado.virtual.device");

    /** Executes the task graph at {@code index} of a plan. */
    static TornadoExecutionResult run(String graph, TornadoExecutionPlan plan, int index) {
        try {
            return plan.withGraph(index).execute();
        } catch (RuntimeException | Error e) {
            throw new EngineException("TornadoVM backend: graph '" + graph + "' failed on the device: " + rootMessage(e), e);
        }
    }

    /**
     * Copies persisted buffers of the task graph at {@code index} to their FloatArrays: an on-demand
     * transfer goes through the plan's selected graph, so that graph is selected first.
     */
    static void transferToHost(String cycle, TornadoExecutionPlan plan, TornadoExecutionResult last, int index, Object... arrays) {
        if (VIRTUAL_DEVICE) return;
        try {
            plan.withGraph(index);
            last.transferToHost(arrays);
        } catch (RuntimeException | Error e) {
            throw new EngineException("TornadoVM backend: copying " + arrays.length + " buffers of cycle '" + cycle + "' back to the host failed: " + rootMessage(e), e);
        }
    }

    /**
     * Frees the device buffers of every task graph of a plan. TornadoVM 5.2's close() frees only the
     * graphs the last {@code withGraph(i)} selected (TornadoExecutor.freeDeviceMemory walks the selected
     * list), and {@link #run}/{@link #transferToHost} always select one: the other segments' buffers
     * would leak, and on PTX their cuMemHostRegister'ed host ranges would outlive the FloatArrays,
     * so later arrays allocated over them fail their copies with CUDA_ERROR_INVALID_VALUE.
     */
    static void close(TornadoExecutionPlan plan) {
        if (VIRTUAL_DEVICE) return;
        try {
            plan.withAllGraphs();
            plan.close();
        } catch (Exception e) {
            throw new EngineException("TornadoVM backend: releasing an execution plan failed: " + rootMessage(e), e);
        }
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
}
