package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Table lookup: out[i] = table[index[i]] for integer-valued indices stored as floats. */
public record Embedding(String name, Tensor table, Tensor index, Tensor out) implements Op {
    public Embedding {
        int d = table.cols();
        if (out.rows() != index.size() || out.cols() != d) throw shapeError("embedding", name, "output must be (" + index.size() + ", " + d + ")", table, index, out);
    }

    public int vocab() { return table.rows(); }
    public int d() { return table.cols(); }

    @Override public String type() { return "embedding"; }
    @Override public List<Tensor> inputs() { return List.of(table, index); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
