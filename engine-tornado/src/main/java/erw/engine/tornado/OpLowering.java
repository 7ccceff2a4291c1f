package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Op;
import java.util.Set;

/** Turns recorded ops of some catalogue types into TornadoVM tasks: the forward and the vector-Jacobian product. */
interface OpLowering {
    /** The catalogue types ({@link Op#type()}) handled. */
    Set<String> types();

    void forward(Op op, OpFields f, TaskSink s);

    /** The backward of the forward op {@code op}; accumulates into its inputs' gradients like the CPU's. */
    default void backward(Op op, OpFields f, TaskSink s) {
        throw new EngineException("TornadoVM backend: " + op.type() + " '" + op.name() + "' has no backward");
    }
}
