package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Closing a plan frees the device buffers of all its task graphs. TornadoVM 5.2's close() frees only
 * the graph selected last with withGraph(i): a plan of several segments leaked the others, which on
 * PTX left pinned host ranges behind that later copies failed on (CUDA_ERROR_INVALID_VALUE, the
 * H200 run of 2026-12-01); on PoCL the device runs out of memory within a few rounds.
 */
class PlanReleaseTest {
    @Test
    void manyPlansOfSeveralSegmentsCompileRunAndClose() {
        Backend backend = Parity.tornado();
        int n = 1 << 22, ops = 2 * TornadoCycle.MAX_TASKS + 4; // 16 MiB per tensor, over 3 segments (TaskGraphs)
        for (int round = 0; round < 12; round++) { // leaking two of three segments, PoCL's 4 GB run out by round 6
            Tensor x = Tensor.input("x", n);
            x.data()[n - 1] = round;
            Graph g = new Graph("release" + round); // differentiable, compiled alone: every tensor its own buffer
            Tensor h = x;
            for (int i = 0; i < ops; i++) h = g.scale("s" + i, h, 1f);
            Tensor out = g.sum("sum", h);
            g.readBack(out);
            try (Plan p = backend.compile(g)) {
                p.run();
            }
            assertEquals(round, out.item(), "round " + round);
        }
    }
}
