package erw.engine.ops;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Mean over rows of the cross-entropy of softmax(logits) (N, K) with integer labels (N) stored as floats. */
public final class SoftmaxCrossEntropy extends Op {
    private final Tensor logits, labels, out;
    private final int n, k;
    private final float[] prob;

    public SoftmaxCrossEntropy(String name, Tensor logits, Tensor labels, Tensor out) {
        super(name);
        this.logits = logits;
        this.labels = labels;
        this.out = out;
        this.n = logits.rows();
        this.k = logits.cols();
        if (labels.size() != n) throw shapeError(type(), name, "labels must have one entry per row", logits, labels);
        if (out.size() != 1) throw shapeError(type(), name, "output must be a scalar", out);
        this.prob = new float[n * k];
    }

    @Override public String type() { return "softmax_cross_entropy"; }
    @Override public List<Tensor> inputs() { return List.of(logits, labels); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    private int label(int i) {
        float f = labels.data()[i];
        int c = (int) f;
        if (c != f || c < 0 || c >= k) throw new EngineException(type() + " '" + name + "': label " + f + " at row " + i + " is outside [0, " + k + ")");
        return c;
    }

    @Override
    public void forward(WorkerPool pool) {
        float[] l = logits.data();
        double loss = 0;
        for (int i = 0; i < n; i++) {
            int o = i * k;
            float m = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < k; c++) m = Math.max(m, l[o + c]);
            double s = 0;
            for (int c = 0; c < k; c++) s += Math.exp(l[o + c] - m);
            double lse = m + Math.log(s);
            for (int c = 0; c < k; c++) prob[o + c] = (float) Math.exp(l[o + c] - lse);
            loss += lse - l[o + label(i)];
        }
        out.data()[0] = (float) (loss / n);
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!logits.requiresGrad()) return;
        float g = out.grad()[0] / n;
        float[] gl = logits.grad();
        for (int i = 0; i < n; i++) {
            int o = i * k, y = label(i);
            for (int c = 0; c < k; c++) gl[o + c] += g * (prob[o + c] - (c == y ? 1f : 0f));
        }
    }
}
