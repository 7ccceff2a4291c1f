package erw.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.ops.AdamW;
import erw.engine.ops.Gelu;
import erw.engine.ops.Matmul;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The flops and bytes a roofline estimate reads off recorded graphs, counted by hand on a small one. */
class WorkloadTest {
    @Test
    void flopsAndBytesPerOpType() {
        Tensor x = Tensor.create("x", Tensor.Kind.ACTIVATION, true, 2, 3);
        Tensor w = Tensor.param("w", 3, 4);
        Tensor h = Tensor.create("h", Tensor.Kind.ACTIVATION, true, 2, 4);
        Tensor y = Tensor.create("y", Tensor.Kind.ACTIVATION, true, 2, 4);
        Matmul mm = new Matmul("mm", x, false, w, false, null, h);
        Graph g = new Graph("g");
        g.add(mm);
        g.add(new Gelu("gelu", h, y));
        Graph bwd = new Graph("bwd");
        bwd.add(new Graph.BackwardOf(mm, List.of(x))); // x's gradient written whole, w's added to
        Tensor lr = Tensor.create("lr", Tensor.Kind.SCALAR, false, 1), step = Tensor.create("t", Tensor.Kind.SCALAR, false, 1);
        bwd.add(new AdamW("adamw", List.of(w), lr, step, 0.9f, 0.999f, 1e-8f, 0f));

        List<Workload.Row> f32 = Workload.of(List.of(g, bwd), 4), b16 = Workload.of(List.of(g, bwd), 2);
        assertEquals(List.of("matmul", "gelu", "matmul_backward", "adamw"), f32.stream().map(Workload.Row::type).toList());
        Workload.Row mmf = f32.get(0), mmb = b16.get(0);
        assertTrue(mmf.gemm() && !f32.get(1).gemm() && f32.get(2).gemm() && !f32.get(3).gemm());
        assertEquals(2 * 2 * 4 * 3, mmf.flops());
        assertEquals((6 + 12 + 8) * 4, mmf.bytes());          // x, w, h
        assertEquals(6 * 2 + 12 * 4 + 8 * 2, mmb.bytes());     // bf16 activations, fp32 weight
        assertEquals((8 + 8) * 4, f32.get(1).bytes());
        // backward: reads x, w and h's gradient; writes x's gradient, reads and writes w's
        assertEquals(2 * mmf.flops(), f32.get(2).flops());
        assertEquals((6 + 12 + 8 + 6 + 2 * 12) * 4, f32.get(2).bytes());
        assertEquals(6 * 2 + 12 * 4 + 8 * 2 + 6 * 2 + 2 * 12 * 4, b16.get(2).bytes());
        assertEquals(28 * 12, f32.get(3).bytes());
        assertFalse(f32.get(3).flops() > 0);
    }
}
