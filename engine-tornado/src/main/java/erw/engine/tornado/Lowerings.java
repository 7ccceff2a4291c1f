package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Graph;
import erw.engine.Op;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The catalogue: which lowering turns each op type (and its backward) into tasks. */
final class Lowerings {
    private final Map<String, OpLowering> byType = new HashMap<>();

    Lowerings() {
        for (OpLowering l : List.of(new LinearAlgebraLowering(), new PointwiseLowering(), new RowLowering(), new LossLowering(),
                new LayoutLowering(), new OptimizerLowering())) {
            for (String t : l.types()) {
                if (byType.put(t, l) != null) throw new IllegalStateException("two lowerings claim op type " + t);
            }
        }
    }

    /** The op types with kernels (for tests checking that the catalogue is covered). */
    java.util.Set<String> types() {
        return java.util.Collections.unmodifiableSet(byType.keySet());
    }

    /** Appends the tasks of one recorded op (a forward op, or a generated backward step). */
    void lower(Op op, TaskSink s) {
        s.beginOp(op.name());
        if (op instanceof Graph.BackwardOf b) {
            Op fwd = b.forwardOp();
            lowering(fwd).backward(fwd, new OpFields(fwd), s);
        } else {
            lowering(op).forward(op, new OpFields(op), s);
        }
    }

    private OpLowering lowering(Op op) {
        OpLowering l = byType.get(op.type());
        if (l == null) throw new EngineException("TornadoVM backend: no kernel for op type '" + op.type() + "' (op '" + op.name() + "')");
        return l;
    }
}
