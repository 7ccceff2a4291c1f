package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs the same recorded case on the CPU backend and on TornadoVM, each on freshly built tensors
 * with the same seeded contents, and compares every checked value: |tornado - cpu| <= atol + rtol |cpu|.
 * With {@code backward}, the loss is sum_k sum(out_k * w_k) for fixed random w_k, so every output
 * receives a random upstream gradient. The gradients of all tensors that have one are compared too.
 */
final class Parity {
    private Parity() {}

    /** Records the ops under test into g over tensors made by ts; returns the outputs to compare. */
    interface Case {
        List<Tensor> build(Graph g, Tensors ts);
    }

    private static TornadoBackend tornado;
    private static final CpuBackend CPU = new CpuBackend(1);

    /** The shared TornadoVM backend, or the test is skipped with the reason. */
    static TornadoBackend tornado() {
        String why = TornadoRuntimeCheck.unavailableReason();
        if (why != null) System.err.println("[erw] TornadoVM parity tests SKIPPED: " + why);
        assumeTrue(why == null, "TornadoVM parity tests skipped: " + why);
        synchronized (Parity.class) {
            if (tornado == null) {
                tornado = new TornadoBackend();
                System.err.println("[erw] TornadoVM device: " + TornadoRuntimeCheck.deviceDescription());
            }
            return tornado;
        }
    }

    static void check(String name, boolean backward, double rtol, double atol, Case c) {
        TornadoBackend tv = tornado();
        List<float[]> expected = run(CPU, name, backward, c);
        List<float[]> actual = run(tv, name, backward, c);
        compare(name, lastLabels, expected, actual, rtol, atol);
    }

    /** Fails naming the worst element of the first array out of tolerance; labels may be null (then indices). */
    static void compare(String name, List<String> labels, List<float[]> expected, List<float[]> actual, double rtol, double atol) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.size(), actual.size(), name + ": number of compared arrays");
        for (int k = 0; k < expected.size(); k++) {
            float[] e = expected.get(k), a = actual.get(k);
            double worst = 0;
            int at = -1;
            for (int i = 0; i < e.length; i++) {
                double d = Math.abs((double) a[i] - e[i]), lim = atol + rtol * Math.abs(e[i]);
                if (!(d <= lim) && (at < 0 || d - lim > worst)) {
                    worst = d - lim;
                    at = i;
                }
            }
            if (REPORT) report(name, labels == null ? "#" + k : labels.get(k), e, a, rtol, atol);
            if (at >= 0) {
                fail(name + ": " + (labels == null ? "#" + k : labels.get(k)) + "[" + at + "] tornado " + a[at] + " vs cpu " + e[at]
                        + " (rtol " + rtol + ", atol " + atol + ")");
            }
        }
    }

    /** -Derw.parity.report=true (through -Dtornado.test.flags): one line per compared array with its largest differences. */
    private static final boolean REPORT = Boolean.getBoolean("erw.parity.report");

    private static void report(String name, String label, float[] e, float[] a, double rtol, double atol) {
        double maxAbs = 0, maxRel = 0, maxUsed = 0;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs((double) a[i] - e[i]);
            maxAbs = Math.max(maxAbs, d);
            if (Math.abs(e[i]) >= 1e-3) maxRel = Math.max(maxRel, d / Math.abs(e[i]));
            double lim = atol + rtol * Math.abs(e[i]);
            maxUsed = Math.max(maxUsed, lim > 0 ? d / lim : (d > 0 ? Double.POSITIVE_INFINITY : 0));
        }
        System.err.printf("[erw parity] %s %s (%d): max abs %.3g, max rel %.3g (|cpu| >= 1e-3), %.3g of the tolerance%n", name, label, e.length, maxAbs, maxRel, maxUsed);
    }

    private static List<String> lastLabels = List.of();

    /** The case's graphs (the forward, and its backward of a random weighting of the outputs); its outputs are added to outs. */
    static List<Graph> record(String name, boolean backward, Case c, Tensors ts, List<Tensor> outs) {
        Graph g = new Graph(name);
        outs.addAll(c.build(g, ts));
        List<Graph> graphs = new ArrayList<>(List.of(g));
        if (backward) {
            Tensor loss = null;
            for (int k = 0; k < outs.size(); k++) {
                Tensor w = ts.input("w" + k, outs.get(k).shape());
                Tensor term = g.sum("loss" + k, g.mul("weighted" + k, outs.get(k), w));
                loss = loss == null ? term : g.add("loss", loss, term);
            }
            graphs.add(g.backward(loss));
        }
        return graphs;
    }

    private static List<float[]> run(Backend backend, String name, boolean backward, Case c) {
        Tensors ts = new Tensors(1234);
        List<Tensor> outs = new ArrayList<>();
        List<Graph> graphs = record(name, backward, c, ts, outs);
        List<Plan> plans = new ArrayList<>();
        for (Graph x : graphs) plans.add(backend.compile(x));
        for (Plan p : plans) p.run();
        for (Plan p : plans) p.close();
        List<float[]> values = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        for (Tensor o : outs) {
            values.add(o.toArray());
            labels.add(o.name());
        }
        {   // every gradient: those of the backward, or of parameters an optimizer step modified
            for (Tensor t : ts.all()) {
                if (t.requiresGrad()) {
                    values.add(t.grad().clone());
                    labels.add("d" + t.name());
                }
            }
        }
        lastLabels = labels;
        return values;
    }

    /** Seeded tensors of a case; each kind of factory fills data (and gradients, for parameters). */
    static final class Tensors {
        private final SplittableRandom rnd;
        private final List<Tensor> all = new ArrayList<>();

        Tensors(long seed) {
            this.rnd = new SplittableRandom(seed);
        }

        private Tensor fill(Tensor t, float scale) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) d[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
            all.add(t);
            return t;
        }

        Tensor input(String name, int... shape) {
            return fill(Tensor.input(name, shape), 1f);
        }

        Tensor withGrad(String name, int... shape) {
            return fill(Tensor.inputWithGrad(name, shape), 1f);
        }

        /** A parameter with random data and a random accumulated gradient. */
        Tensor param(String name, int... shape) {
            Tensor t = fill(Tensor.param(name, shape), 1f);
            float[] g = t.grad();
            for (int i = 0; i < g.length; i++) g[i] = (float) (rnd.nextDouble() * 2 - 1);
            return t;
        }

        Tensor state(String name, int... shape) {
            return fill(Tensor.state(name, shape), 1f);
        }

        /** Integer values in [0, k) (labels, embedding indices). */
        Tensor indices(String name, int count, int k) {
            Tensor t = Tensor.input(name, count);
            for (int i = 0; i < count; i++) t.data()[i] = rnd.nextInt(k);
            all.add(t);
            return t;
        }

        Tensor scalar(String name, float v) {
            Tensor t = Tensor.scalar(name, v);
            all.add(t);
            return t;
        }

        List<Tensor> all() {
            return all;
        }
    }
}
