package erw.model;

import erw.engine.Graph;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The training objective as recorded graph ops, shared by the trainer and {@code erw forward}:
 * <pre>  loss = w_diff * loss_v + lambda * sum_k coef_k * term_k,   term_k = mean_batch[w_t(t) * align_k]</pre>
 * REED's form (c_proj * w_align(s) is {@code lambda}); REPA and ERW are one per-token target with
 * coefficient 1, no w_diff and no time weights, recorded with exactly the ops they always had (so
 * their numbers are bit-identical). The ERW warmup has no velocity: {@code loss = lambda * sum}.
 */
public final class Objective {
    private Objective() {}

    /** The alignment loss of every target. */
    public sealed interface Align {
        /** Negative cosine per token row (REPA, REED). */
        record Cosine() implements Align {}

        /** NT-Xent with in-batch negatives per token position (ERW's option). */
        record NtXent(float tau, boolean symmetric) implements Align {}
    }

    /** One alignment target: the model's projection, the target features of the same shape, the coefficient. */
    public record Target(Tensor prediction, Tensor features, double coef) {}

    /**
     * The recorded terms: the total, the velocity MSE (null in the warmup), the weighted sum of the
     * alignment terms (null without targets) and each term_k.
     */
    public record Terms(Tensor loss, Tensor lossV, Tensor lossAlign, List<Tensor> alignTerms) {}

    /**
     * Records the objective.
     *
     * @param velocity the model's velocity, null for the ERW warmup model (alignment only)
     * @param wDiff scalar weight of the velocity loss, null for 1 (no op recorded)
     * @param timeWeights per-sample w_t(t) (N), null for constant 1 (cosine only)
     * @param lambda scalar weight of the alignment sum
     * @param batch N (NT-Xent's negatives)
     */
    public static Terms record(Graph g, Tensor velocity, Tensor vTarget, Tensor wDiff, List<Target> targets, Align align,
                               Tensor timeWeights, Tensor lambda, int batch) {
        if (timeWeights != null && !(align instanceof Align.Cosine)) {
            throw new IllegalArgumentException("time weights need the cosine alignment loss (NT-Xent's negatives couple the samples)");
        }
        Tensor lossV = velocity == null ? null : g.mse("loss_v", velocity, vTarget);
        Tensor vTerm = lossV == null || wDiff == null ? lossV : g.scale("w_diff*loss_v", lossV, 1f, wDiff);
        List<Tensor> terms = new ArrayList<>();
        for (int k = 0; k < targets.size(); k++) {
            Target t = targets.get(k);
            String name = targets.size() == 1 ? "loss_align" : "loss_align." + k;
            terms.add(switch (align) {
                case Align.Cosine c -> g.cosineAlign(name, t.prediction(), t.features(), timeWeights);
                case Align.NtXent nt -> g.ntXentAlign(name, t.prediction(), t.features(), batch, nt.tau(), nt.symmetric());
            });
        }
        Tensor sum = null;
        if (targets.size() == 1 && targets.get(0).coef() == 1.0) {
            sum = terms.get(0);
        } else {
            for (int k = 0; k < terms.size(); k++) {
                Tensor weighted = g.scale("coef" + k + "*loss_align." + k, terms.get(k), (float) targets.get(k).coef());
                sum = sum == null ? weighted : g.add("loss_align", sum, weighted);
            }
        }
        Tensor loss;
        if (sum == null) {
            if (vTerm == null) throw new IllegalArgumentException("an objective needs a velocity loss or an alignment target");
            loss = vTerm;
        } else if (vTerm == null) {
            loss = g.scale("loss", sum, 1f, lambda);
        } else {
            loss = g.add("loss", vTerm, g.scale("lambda*loss_align", sum, 1f, lambda));
        }
        return new Terms(loss, lossV, sum, List.copyOf(terms));
    }
}
