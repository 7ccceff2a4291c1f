package erw.engine.tornado;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.model.SiT;
import erw.model.SiTConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The SiT inference forward, every activation compared op by op (so a mismatch names the first op
 * whose kernel disagrees, not just a wrong sample). Tolerance 1e-4 relative + 1e-5 absolute.
 */
class ModelForwardParityTest {
    private record Run(List<String> names, List<float[]> values) {}

    private static Run run(Backend backend) {
        SiT m = new SiT(new SiTConfig(2, 64, 2, 4, 16, 1, 10, 2, 96, 32, 4.0, false, false, 0)).initialize(3);
        SplittableRandom r = new SplittableRandom(17);
        for (Tensor p : m.parameters().trainable()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) d[i] += (float) ((r.nextDouble() * 2 - 1) * 0.05);
        }
        int rows = 6;
        Tensor x = Tensor.input("x", rows, 1, 16, 16), t = Tensor.input("t", rows), y = Tensor.input("y", rows);
        for (int i = 0; i < x.size(); i++) x.data()[i] = (float) r.nextGaussian();
        for (int i = 0; i < rows; i++) {
            t.data()[i] = 0.3f;
            y.data()[i] = i % 11;
        }
        Graph g = Graph.inference("fwd");
        m.forward(g, x, t, y);
        try (Plan p = backend.compile(g)) {
            p.run();
        }
        List<String> names = new ArrayList<>();
        List<float[]> values = new ArrayList<>();
        for (Op op : g.ops()) {
            for (Tensor o : op.outputs()) {
                names.add(op.type() + " '" + op.name() + "' -> " + o.name());
                values.add(o.toArray());
            }
        }
        return new Run(names, values);
    }

    @Test
    void everyActivationOfTheForwardMatchesTheCpu() {
        TornadoBackend tv = Parity.tornado();
        Run cpu;
        try (CpuBackend c = new CpuBackend(1)) {
            cpu = run(c);
        }
        Run gpu = run(tv);
        Parity.compare("SiT forward", cpu.names(), cpu.values(), gpu.values(), 1e-4, 1e-5);
    }
}
