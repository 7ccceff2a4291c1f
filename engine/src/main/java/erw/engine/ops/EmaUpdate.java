package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Exponential moving average of parameters: ema = decay * ema + (1 - decay) * p, decay a scalar tensor. */
public record EmaUpdate(String name, List<Tensor> params, List<Tensor> ema, Tensor decay) implements Op {
    public EmaUpdate {
        params = List.copyOf(params);
        ema = List.copyOf(ema);
        if (params.size() != ema.size()) throw new EngineException("ema '" + name + "': " + params.size() + " parameters but " + ema.size() + " EMA tensors");
        for (int i = 0; i < params.size(); i++) {
            if (params.get(i).size() != ema.get(i).size()) throw shapeError("ema", name, "EMA tensor differs in size", params.get(i), ema.get(i));
        }
    }

    @Override public String type() { return "ema"; }
    @Override public List<Tensor> inputs() { return params; }
    @Override public List<Tensor> outputs() { return ema; }
    @Override public boolean differentiable() { return false; }
}
