package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import java.lang.reflect.Field;
import java.util.List;

/**
 * Reads an op's recorded configuration (its operand tensors, flags and sizes). The engine's ops
 * keep these private and expose only inputs/outputs; reading the fields here keeps the engine
 * untouched (it opens erw.engine.ops to this module). A renamed field fails loudly, naming the op.
 */
final class OpFields {
    private final Op op;

    OpFields(Op op) {
        this.op = op;
    }

    Object raw(String field) {
        Class<?> c = op.getClass();
        try {
            Field f = c.getDeclaredField(field);
            f.setAccessible(true);
            return f.get(op);
        } catch (NoSuchFieldException e) {
            throw new EngineException("TornadoVM backend: " + op.type() + " '" + op.name() + "': the engine's " + c.getSimpleName()
                    + " has no field '" + field + "' any more; engine-tornado must be updated with it");
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new EngineException("TornadoVM backend: cannot read '" + field + "' of " + op.type() + " '" + op.name() + "': " + e.getMessage(), e);
        }
    }

    Tensor tensor(String field) {
        return (Tensor) raw(field);
    }

    @SuppressWarnings("unchecked")
    List<Tensor> tensors(String field) {
        return (List<Tensor>) raw(field);
    }

    int integer(String field) {
        return (Integer) raw(field);
    }

    long longValue(String field) {
        return (Long) raw(field);
    }

    float real(String field) {
        return (Float) raw(field);
    }

    boolean flag(String field) {
        return (Boolean) raw(field);
    }

    /** An enum field's constant name, e.g. "SILU". */
    String kind(String field) {
        return ((Enum<?>) raw(field)).name();
    }
}
