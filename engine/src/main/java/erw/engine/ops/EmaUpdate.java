package erw.engine.ops;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Exponential moving average of parameters: ema = decay * ema + (1 - decay) * p, decay a scalar tensor. */
public final class EmaUpdate extends Op {
    private final List<Tensor> params, ema;
    private final Tensor decay;

    public EmaUpdate(String name, List<Tensor> params, List<Tensor> ema, Tensor decay) {
        super(name);
        this.params = List.copyOf(params);
        this.ema = List.copyOf(ema);
        this.decay = decay;
        if (params.size() != ema.size()) throw new EngineException(type() + " '" + name + "': " + params.size() + " parameters but " + ema.size() + " EMA tensors");
        for (int i = 0; i < params.size(); i++) {
            if (params.get(i).size() != ema.get(i).size()) throw shapeError(type(), name, "EMA tensor differs in size", params.get(i), ema.get(i));
        }
    }

    @Override public String type() { return "ema"; }
    @Override public List<Tensor> inputs() { return params; }
    @Override public List<Tensor> outputs() { return ema; }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    @Override
    public void forward(WorkerPool pool) {
        float d = decay.data()[0], w = 1f - d;
        for (int k = 0; k < params.size(); k++) {
            float[] p = params.get(k).data(), e = ema.get(k).data();
            pool.parallelFor(p.length, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) e[i] = d * e[i] + w * p[i];
            });
        }
    }
}
