package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Row-wise softmax over the last dimension (max-subtracted). */
public record Softmax(String name, Tensor x, Tensor out) implements Op {
    public Softmax {
        if (out.size() != x.size()) throw shapeError("softmax", name, "output size differs from input", x, out);
    }

    public int rows() { return x.rows(); }
    public int c() { return x.cols(); }

    @Override public String type() { return "softmax"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
