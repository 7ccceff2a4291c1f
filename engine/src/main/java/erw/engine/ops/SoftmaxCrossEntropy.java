package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * Mean over rows of the cross-entropy of softmax(logits) (N, K) with integer labels (N) stored as
 * floats. The forward saves the probabilities (N, K) for the backward.
 */
public record SoftmaxCrossEntropy(String name, Tensor logits, Tensor labels, Tensor out, Tensor prob) implements Op {
    public SoftmaxCrossEntropy {
        if (labels.size() != logits.rows()) throw shapeError("softmax_cross_entropy", name, "labels must have one entry per row", logits, labels);
        if (out.size() != 1) throw shapeError("softmax_cross_entropy", name, "output must be a scalar", out);
        if (prob.size() != logits.size()) throw shapeError("softmax_cross_entropy", name, "saved probabilities must have the logits' size", logits, prob);
    }

    /** With its saved probabilities created here ({@code <name>.prob}). */
    public SoftmaxCrossEntropy(String name, Tensor logits, Tensor labels, Tensor out) {
        this(name, logits, labels, out, Tensor.saved(name + ".prob", logits.rows(), logits.cols()));
    }

    public int n() { return logits.rows(); }
    public int k() { return logits.cols(); }

    @Override public String type() { return "softmax_cross_entropy"; }
    @Override public List<Tensor> inputs() { return List.of(logits, labels); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public List<Tensor> saved() { return List.of(prob); }
}
