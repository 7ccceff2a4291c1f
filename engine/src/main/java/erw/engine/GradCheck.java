package erw.engine;

import erw.engine.host.Philox;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Finite-difference gradient check. The graph under test maps inputs to outputs; the checked
 * function is L = sum_k <out_k, R_k> with fixed random R_k, recorded as mul + sum so that the
 * engine's backward computes dL/dx. The numeric side evaluates L in double from the fp32 forward
 * outputs with central differences.
 *
 * Used by the test suites of every module; a failure throws {@link AssertionError}.
 *
 * <p>Tolerances (fp32 forward, central differences with step {@code eps}):
 * |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|), defaults eps = 1e-2 scaled by
 * the coordinate's magnitude, atol = 2e-3, rtol = 2e-2.
 */
public final class GradCheck {
    public double eps = 1e-2, atol = 2e-3, rtol = 2e-2;
    public int maxCoordsPerTensor = 24;
    private final Backend backend;

    public GradCheck(Backend backend) {
        this.backend = backend;
    }

    /** Fills a tensor with seeded normals times {@code scale}. */
    public static void fill(Tensor t, long seed, float scale) {
        Philox.normal(seed, 7, 0, t.data(), 0, t.size());
        for (int i = 0; i < t.size(); i++) t.data()[i] *= scale;
    }

    /**
     * @param build records the op(s) under test into the graph and returns their differentiable outputs
     * @param wrt   the tensors whose gradients are checked (all must require grad)
     * @return the largest violation ratio |err| / (atol + rtol*scale) (must be <= 1)
     */
    public double check(String what, Function<Graph, List<Tensor>> build, List<Tensor> wrt) {
        Graph fwd = new Graph(what);
        List<Tensor> outs = build.apply(fwd);
        List<Tensor> weights = new ArrayList<>();
        Tensor loss = null;
        for (int k = 0; k < outs.size(); k++) {
            Tensor o = outs.get(k);
            Tensor r = Tensor.input(what + ".r" + k, o.shape());
            fill(r, 1000 + k, 1f);
            weights.add(r);
            Tensor s = fwd.sum(what + ".s" + k, fwd.mul(what + ".m" + k, o, r));
            loss = loss == null ? s : fwd.add(what + ".acc" + k, loss, s);
        }
        Graph bwd = fwd.backward(loss);
        Plan pf = backend.compile(fwd), pb = backend.compile(bwd);
        for (Tensor t : wrt) t.zeroGrad();
        pf.run();
        pb.run();
        double worst = 0;
        StringBuilder report = new StringBuilder();
        for (Tensor t : wrt) {
            float[] analytic = t.grad().clone();
            int n = t.size();
            int step = Math.max(1, n / maxCoordsPerTensor);
            for (int i = 0; i < n; i += step) {
                float orig = t.data()[i];
                double h = eps * Math.max(1.0, Math.abs(orig));
                t.data()[i] = (float) (orig + h);
                double hp = t.data()[i] - orig;
                pf.run();
                double lp = value(outs, weights);
                t.data()[i] = (float) (orig - h);
                double hm = orig - t.data()[i];
                pf.run();
                double lm = value(outs, weights);
                t.data()[i] = orig;
                double numeric = (lp - lm) / (hp + hm);
                double a = analytic[i];
                double err = Math.abs(a - numeric);
                double ratio = err / (atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)));
                if (ratio > worst) worst = ratio;
                if (ratio > 1 && report.length() < 2000) {
                    report.append(String.format("  %s[%d]: analytic %.6g, numeric %.6g%n", t.name(), i, a, numeric));
                }
            }
        }
        pf.run();
        if (worst > 1) throw new AssertionError(what + ": gradient mismatch (worst ratio " + worst + "):\n" + report);
        return worst;
    }

    private static double value(List<Tensor> outs, List<Tensor> weights) {
        double s = 0;
        for (int k = 0; k < outs.size(); k++) {
            float[] o = outs.get(k).data(), r = weights.get(k).data();
            for (int i = 0; i < o.length; i++) s += (double) o[i] * r[i];
        }
        return s;
    }
}
