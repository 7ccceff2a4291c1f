package erw.engine.ops;

import erw.engine.EngineException;
import erw.engine.Tensor;

/** Shape errors of the op records' constructors, naming the op and its operands. */
final class Checks {
    private Checks() {}

    static EngineException shapeError(String type, String name, String what, Tensor... ts) {
        StringBuilder sb = new StringBuilder(type).append(" '").append(name).append("': ").append(what).append(" (");
        for (int i = 0; i < ts.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(ts[i].name()).append(' ').append(ts[i].shapeString());
        }
        return new EngineException(sb.append(')').toString());
    }
}
