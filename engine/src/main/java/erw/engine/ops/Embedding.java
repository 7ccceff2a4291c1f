package erw.engine.ops;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Table lookup: out[i] = table[index[i]] for integer-valued indices stored as floats. */
public final class Embedding extends Op {
    private final Tensor table, index, out;
    private final int vocab, d;

    public Embedding(String name, Tensor table, Tensor index, Tensor out) {
        super(name);
        this.table = table;
        this.index = index;
        this.out = out;
        this.vocab = table.rows();
        this.d = table.cols();
        if (out.rows() != index.size() || out.cols() != d) throw shapeError(type(), name, "output must be (" + index.size() + ", " + d + ")", table, index, out);
    }

    @Override public String type() { return "embedding"; }
    @Override public List<Tensor> inputs() { return List.of(table, index); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    private int row(int i) {
        float f = index.data()[i];
        int r = (int) f;
        if (r != f || r < 0 || r >= vocab) {
            throw new EngineException(type() + " '" + name + "': index " + f + " at position " + i + " of '" + index.name() + "' is outside [0, " + vocab + ")");
        }
        return r;
    }

    @Override
    public void forward(WorkerPool pool) {
        float[] td = table.data(), od = out.data();
        for (int i = 0; i < index.size(); i++) System.arraycopy(td, row(i) * d, od, i * d, d);
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!table.requiresGrad()) return;
        float[] g = out.grad(), gt = table.grad();
        // serial over indices so repeated rows accumulate in a fixed order
        for (int i = 0; i < index.size(); i++) {
            int r = row(i) * d, o = i * d;
            for (int c = 0; c < d; c++) gt[r + c] += g[o + c];
        }
    }
}
