package erw.engine.tornado;

import erw.engine.EngineException;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The buffers one task uses, read from what its adder lambda captured (every kernel argument is
 * captured). Needed to cut a graph into TaskGraph segments and give each only its own transfers.
 */
final class TaskArgs {
    private TaskArgs() {}

    static List<FloatArray> buffers(Object adder) {
        Set<FloatArray> found = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Field f : adder.getClass().getDeclaredFields()) {
            try {
                f.setAccessible(true);
                Object v = f.get(adder);
                if (v instanceof FloatArray a) found.add(a);
                else if (v instanceof FloatArray[] as) Collections.addAll(found, as);
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new EngineException("TornadoVM backend: cannot inspect the arguments of a task: " + e.getMessage(), e);
            }
        }
        return new ArrayList<>(found);
    }
}
