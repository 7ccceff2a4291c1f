package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * Concatenation along the feature (last) axis and its inverse, chunking: {@code parts} are (R, D_i),
 * {@code whole} is (R, sum D_i). In chunk mode the whole is the input and the parts the outputs.
 */
public final class Concat extends Op {
    private final List<Tensor> parts;
    private final Tensor whole;
    private final boolean chunk;
    private final int rows, total;
    private final int[] offsets;

    public Concat(String name, List<Tensor> parts, Tensor whole, boolean chunk) {
        super(name);
        this.parts = List.copyOf(parts);
        this.whole = whole;
        this.chunk = chunk;
        this.rows = whole.rows();
        this.total = whole.cols();
        this.offsets = new int[parts.size() + 1];
        for (int i = 0; i < parts.size(); i++) {
            Tensor p = parts.get(i);
            if (p.rows() != rows) throw shapeError(type(), name, "part " + i + " has " + p.rows() + " rows, expected " + rows, p, whole);
            offsets[i + 1] = offsets[i] + p.cols();
        }
        if (offsets[parts.size()] != total) throw shapeError(type(), name, "parts' widths sum to " + offsets[parts.size()] + ", expected " + total, whole);
    }

    @Override public String type() { return chunk ? "chunk" : "concat"; }
    @Override public List<Tensor> inputs() { return chunk ? List.of(whole) : parts; }
    @Override public List<Tensor> outputs() { return chunk ? parts : List.of(whole); }

    private void copy(WorkerPool pool, boolean toWhole, boolean grads, boolean accumulate) {
        pool.parallelFor(rows, 16, (lo, hi) -> {
            for (int k = 0; k < parts.size(); k++) {
                Tensor p = parts.get(k);
                float[] pd = grads ? p.grad() : p.data(), wd = grads ? whole.grad() : whole.data();
                if (pd == null || wd == null) continue;
                int w = p.cols(), off = offsets[k];
                for (int r = lo; r < hi; r++) {
                    int po = r * w, wo = r * total + off;
                    if (!accumulate) {
                        if (toWhole) System.arraycopy(pd, po, wd, wo, w);
                        else System.arraycopy(wd, wo, pd, po, w);
                    } else if (toWhole) {
                        for (int c = 0; c < w; c++) wd[wo + c] += pd[po + c];
                    } else {
                        for (int c = 0; c < w; c++) pd[po + c] += wd[wo + c];
                    }
                }
            }
        });
    }

    @Override
    public void forward(WorkerPool pool) {
        copy(pool, !chunk, false, false);
    }

    @Override
    public void backward(WorkerPool pool) {
        if (chunk) {
            if (whole.requiresGrad()) copy(pool, true, true, true);
        } else {
            copy(pool, false, true, true);
        }
    }
}
