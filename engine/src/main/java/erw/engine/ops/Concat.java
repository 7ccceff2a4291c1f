package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Concatenation of {@code parts} (R, D_i) along the feature (last) axis into {@code whole} (R, sum D_i). */
public record Concat(String name, List<Tensor> parts, Tensor whole) implements Op {
    public Concat {
        parts = List.copyOf(parts);
        int rows = whole.rows(), w = 0;
        for (int i = 0; i < parts.size(); i++) {
            Tensor p = parts.get(i);
            if (p.rows() != rows) throw shapeError("concat", name, "part " + i + " has " + p.rows() + " rows, expected " + rows, p, whole);
            w += p.cols();
        }
        if (w != whole.cols()) throw shapeError("concat", name, "parts' widths sum to " + w + ", expected " + whole.cols(), whole);
    }

    /** Column offset of each part in the whole, and the total width last. */
    public int[] offsets() {
        int[] offsets = new int[parts.size() + 1];
        for (int i = 0; i < parts.size(); i++) offsets[i + 1] = offsets[i] + parts.get(i).cols();
        return offsets;
    }

    @Override public String type() { return "concat"; }
    @Override public List<Tensor> inputs() { return parts; }
    @Override public List<Tensor> outputs() { return List.of(whole); }
}
