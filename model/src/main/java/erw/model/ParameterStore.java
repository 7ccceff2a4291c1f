package erw.model;

import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model's tensors under their published PyTorch {@code state_dict} names, in registration
 * order: the single list that checkpoints, the optimizer, the EMA and the gradient norm walk.
 * Trainable parameters and fixed buffers (such as {@code pos_embed}) are kept apart.
 */
public final class ParameterStore {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final List<Tensor> trainable = new ArrayList<>();

    public Tensor param(String name, int... shape) {
        Tensor t = Tensor.param(name, shape);
        register(name, t);
        trainable.add(t);
        return t;
    }

    public Tensor buffer(String name, int... shape) {
        Tensor t = Tensor.state(name, shape);
        register(name, t);
        return t;
    }

    private void register(String name, Tensor t) {
        if (tensors.putIfAbsent(name, t) != null) throw new IllegalStateException("parameter '" + name + "' registered twice");
    }

    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no parameter named '" + name + "'");
        return t;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Every tensor (trainable and buffers) by name, in registration order. */
    public Map<String, Tensor> all() {
        return Collections.unmodifiableMap(tensors);
    }

    public List<Tensor> trainable() {
        return Collections.unmodifiableList(trainable);
    }

    public long trainableCount() {
        long n = 0;
        for (Tensor t : trainable) n += t.size();
        return n;
    }

    public long totalCount() {
        long n = 0;
        for (Tensor t : tensors.values()) n += t.size();
        return n;
    }

    /** Copies every tensor whose name and size match from {@code src}; returns the copied names. */
    public List<String> copyMatchingFrom(ParameterStore src) {
        List<String> copied = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor s = src.tensors.get(e.getKey());
            if (s != null && s.size() == e.getValue().size()) {
                System.arraycopy(s.data(), 0, e.getValue().data(), 0, s.size());
                copied.add(e.getKey());
            }
        }
        return copied;
    }

    /** Copies all values from a store of the same layout. */
    public void copyAllFrom(ParameterStore src) {
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor s = src.get(e.getKey());
            System.arraycopy(s.data(), 0, e.getValue().data(), 0, s.size());
        }
    }
}
