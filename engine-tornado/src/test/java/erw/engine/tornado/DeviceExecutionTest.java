package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Guards against TornadoVM's silent fallback to plain Java (e.g. kernels compiled without debug
 * info): in Java, a KernelContext's ids are all 0, so only a real device launch writes each index.
 */
class DeviceExecutionTest {
    public static void writeIds(KernelContext ctx, FloatArray out) {
        out.set(ctx.globalIdx, ctx.globalIdx + 0.5f);
    }

    @Test
    void kernelsRunOnTheDevice() throws Exception {
        Parity.tornado();
        int n = 64;
        FloatArray out = new FloatArray(n);
        KernelContext ctx = new KernelContext();
        TaskGraph tg = new TaskGraph("probe").task("ids", DeviceExecutionTest::writeIds, ctx, out)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out);
        WorkerGrid1D grid = new WorkerGrid1D(n);
        grid.setLocalWork(16, 1, 1);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot())) {
            plan.withGridScheduler(new GridScheduler("probe.ids", grid)).execute();
        }
        for (int i = 0; i < n; i++) assertEquals(i + 0.5f, out.get(i), "element " + i);
    }
}
