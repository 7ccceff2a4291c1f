package erw.engine.tornado;

import erw.engine.EngineException;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;

/** Runs TornadoVM execution plans, turning TornadoVM's failures into one clear engine error. */
final class Execution {
    private Execution() {}

    static void run(String graph, TornadoExecutionPlan plan) {
        try {
            plan.execute();
        } catch (RuntimeException | Error e) {
            throw new EngineException("TornadoVM backend: graph '" + graph + "' failed on the device: " + rootMessage(e), e);
        }
    }

    static void close(TornadoExecutionPlan plan) {
        try {
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
