package erw.model;

import erw.engine.Tensor;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Model checkpoints as safetensors under the published PyTorch names, with the model config in the
 * {@code __metadata__} key {@code erw.config}. Training checkpoints add {@code ema.<name>} and
 * optimizer tensors to the same file; this class reads only what a model needs, so the sampler
 * works from a checkpoint alone.
 */
public final class Checkpoint {
    public static final String CONFIG_KEY = "erw.config";
    public static final String EMA_PREFIX = "ema.";

    private static final java.util.Set<String> FLOAT_DTYPES = java.util.Set.of("F32", "F16", "BF16", "F64");
    /** Names that belong to a SiT; anything else in a file (EMA, optimizer, inputs, outputs) is side data. */
    private static final List<String> MODEL_PREFIXES = List.of("x_embedder.", "t_embedder.", "y_embedder.", "blocks.", "final_layer.", "projectors.", "pos_embed");

    /** Problems a load error lists before "and N more" (a wrong config mismatches hundreds of tensors). */
    private static final int MAX_LISTED = 8;

    private Checkpoint() {}

    /** The model tensors (published names) as safetensors entries. */
    public static Map<String, SafeTensors.Tensor> tensors(ParameterStore store, String prefix) {
        Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
        store.all().forEach((name, t) -> out.put(prefix + name, live(t)));
        return out;
    }

    /** A copy of the tensor's values now (safe to keep while the tensor changes). */
    public static SafeTensors.Tensor entry(Tensor t) {
        return new SafeTensors.Tensor(longShape(t), t.data().clone());
    }

    /**
     * The tensor's own array, not a copy: for writing a file at once, while nothing computes. A
     * checkpoint of SiT-S/2 (weights, EMA, moments) held a 600 MB copy before (its peak memory).
     */
    public static SafeTensors.Tensor live(Tensor t) {
        return new SafeTensors.Tensor(longShape(t), t.data());
    }

    private static long[] longShape(Tensor t) {
        int[] s = t.shape();
        long[] shape = new long[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = s[i];
        return shape;
    }

    /** Writes a model-only checkpoint atomically. */
    public static void save(Path file, SiT model, Map<String, String> extraMetadata) {
        Map<String, String> meta = new LinkedHashMap<>(extraMetadata);
        meta.put(CONFIG_KEY, model.config().toJson());
        SafeTensors.write(file, tensors(model.parameters(), ""), meta);
    }

    /** The model config stored in a checkpoint, or {@code override} when given. */
    public static SiTConfig config(SafeTensorsFile f, SiTConfig override) {
        if (override != null) return override;
        String json = f.metadata().get(CONFIG_KEY);
        if (json == null) {
            throw new IllegalArgumentException(f.path() + " has no '" + CONFIG_KEY + "' metadata (a foreign checkpoint?): "
                    + "pass --model NAME (e.g. SiT-XL/2) plus overrides such as --num-classes, --input-size, --num-heads");
        }
        try {
            return SiTConfig.fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f.path() + ": " + e.getMessage());
        }
    }

    /**
     * Loads a model: the config from the file (or {@code override}), weights from the published names
     * (or their {@code ema.} copies). Every missing or mis-shaped tensor is named in one error; a
     * published SiT final layer with learned sigma (2C outputs) is cut to its first C channels.
     */
    public static SiT load(Path file, boolean ema, SiTConfig override) {
        return load(file, ema, override, true);
    }

    /**
     * Loads what the velocity needs, for sampling: as {@link #load}, but the projectors' tensors
     * ({@code projectors.*}) are neither required nor read, since a sampler never runs them. A
     * published SiT (no projector) or a REPA model with more projectors than the config loads too;
     * the model's projector weights stay zero.
     */
    public static SiT loadForSampling(Path file, boolean ema, SiTConfig override) {
        return load(file, ema, override, false);
    }

    private static SiT load(Path file, boolean ema, SiTConfig override, boolean projectors) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("checkpoint " + file + " does not exist");
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            SiT model = new SiT(config(f, override));
            String prefix = ema ? EMA_PREFIX : "";
            if (ema && !f.contains(EMA_PREFIX + "x_embedder.proj.weight")) {
                throw new IllegalArgumentException(file + " holds no EMA weights (no '" + EMA_PREFIX + "*' tensors): drop --ema");
            }
            if (!ema && !f.contains("x_embedder.proj.weight") && f.contains(EMA_PREFIX + "x_embedder.proj.weight")) {
                throw new IllegalArgumentException(file + " holds only EMA weights ('" + EMA_PREFIX + "*' tensors): add --ema");
            }
            try {
                loadInto(f, model.parameters(), prefix, false, projectors ? name -> false : SiT::isProjector, true);
            } catch (SafeTensorsException e) {
                if (override == null) throw e;
                throw new SafeTensorsException(e.getMessage() + " (the config came from --model: " + ModelSizes.describe(override) + "; check --model and its overrides)");
            }
            return model;
        }
    }

    /**
     * Copies tensors named {@code prefix + name} from the file into the store. With {@code partial},
     * names absent from the file are skipped; otherwise every missing or mis-shaped one is reported
     * at once and nothing is copied. Returns the names copied.
     */
    public static List<String> loadInto(SafeTensorsFile f, ParameterStore store, String prefix, boolean partial) {
        return loadInto(f, store, prefix, partial, name -> false);
    }

    /** As {@link #loadInto(SafeTensorsFile, ParameterStore, String, boolean)}; names for which {@code skip} holds are neither read nor checked. */
    public static List<String> loadInto(SafeTensorsFile f, ParameterStore store, String prefix, boolean partial, java.util.function.Predicate<String> skip) {
        return loadInto(f, store, prefix, partial, skip, false);
    }

    /**
     * {@code direct}: tensors are read straight into the store (for a model made for this load and dropped on
     * error), not staged first, so loading needs no second copy of the weights (SiT-XL/2: 2.7 GB).
     */
    private static List<String> loadInto(SafeTensorsFile f, ParameterStore store, String prefix, boolean partial, java.util.function.Predicate<String> skip,
                                         boolean direct) {
        List<String> problems = new ArrayList<>(), copied = new ArrayList<>();
        Map<String, float[]> staged = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : store.all().entrySet()) {
            String key = prefix + e.getKey();
            Tensor t = e.getValue();
            if (skip.test(e.getKey())) continue;
            if (!f.contains(key)) {
                if (!partial) problems.add("missing " + key + " (expected " + t.shapeString() + ")");
                continue;
            }
            String dtype = f.dtype(key);
            if (!FLOAT_DTYPES.contains(dtype)) {
                problems.add("dtype of " + key + " is " + dtype + ", expected a float type (F32, F16, BF16, F64)");
                continue;
            }
            long[] shape = f.shape(key);
            long numel = 1;
            for (long d : shape) numel *= d;
            float[] v;
            if (numel == t.size() && sameDims(shape, t.shape())) {
                if (direct) {
                    f.readFloats(key, t.data(), 0);
                    v = t.data();
                } else {
                    v = f.readFloats(key);
                }
            } else if (e.getKey().startsWith("final_layer.linear.") && numel == 2L * t.size()) {
                v = dropLearnedSigma(f.readFloats(key), t, store);
            } else {
                problems.add("shape of " + key + " is " + java.util.Arrays.toString(shape) + ", expected " + t.shapeString());
                continue;
            }
            int bad = firstNonFinite(v);
            if (bad >= 0) problems.add(key + " holds a non-finite value (" + v[bad] + " at index " + bad + ")");
            else if (v == t.data()) copied.add(e.getKey());
            else staged.put(e.getKey(), v);
        }
        if (!partial) {
            for (String key : f.names()) {
                if (!key.startsWith(prefix)) continue;
                String name = key.substring(prefix.length());
                if (skip.test(name)) continue;
                boolean modelLike = MODEL_PREFIXES.stream().anyMatch(name::startsWith);
                if (modelLike && !store.contains(name)) problems.add("unexpected " + key + " " + java.util.Arrays.toString(f.shape(key)) + " (not a tensor of this model)");
            }
        }
        if (!problems.isEmpty()) {
            String listed = String.join("; ", problems.subList(0, Math.min(problems.size(), MAX_LISTED)));
            if (problems.size() > MAX_LISTED) listed += "; and " + (problems.size() - MAX_LISTED) + " more";
            throw new SafeTensorsException(f.path() + ": " + problems.size() + " problem" + (problems.size() > 1 ? "s" : "") + ": " + listed);
        }
        staged.forEach((name, v) -> {
            System.arraycopy(v, 0, store.get(name).data(), 0, v.length);
            copied.add(name);
        });
        return copied;
    }

    /**
     * Reads one tensor of side state (EMA, optimizer moments) into {@code t}, refusing a missing,
     * non-float, mis-shaped or non-finite entry with one line that names the file and the tensor.
     */
    public static void readExact(SafeTensorsFile f, String key, Tensor t, String purpose) {
        if (!f.contains(key)) throw new SafeTensorsException(f.path() + ": missing " + key + " " + t.shapeString() + " needed " + purpose);
        if (!FLOAT_DTYPES.contains(f.dtype(key))) throw new SafeTensorsException(f.path() + ": dtype of " + key + " is " + f.dtype(key) + ", expected a float type");
        if (!sameDims(f.shape(key), t.shape())) {
            throw new SafeTensorsException(f.path() + ": shape of " + key + " is " + java.util.Arrays.toString(f.shape(key)) + ", expected " + t.shapeString());
        }
        float[] v = f.readFloats(key);
        int bad = firstNonFinite(v);
        if (bad >= 0) throw new SafeTensorsException(f.path() + ": " + key + " holds a non-finite value (" + v[bad] + " at index " + bad + ")");
        System.arraycopy(v, 0, t.data(), 0, v.length);
    }

    /** Index of the first NaN or infinity, or -1. */
    public static int firstNonFinite(float[] v) {
        for (int i = 0; i < v.length; i++) if (!Float.isFinite(v[i])) return i;
        return -1;
    }

    private static boolean sameDims(long[] shape, int[] expected) {
        if (shape.length != expected.length) return false;
        for (int i = 0; i < shape.length; i++) if (shape[i] != expected[i]) return false;
        return true;
    }

    /** Keeps the first C of the 2C output channels of the published learn_sigma final layer (rows ordered (i, j, c)). */
    private static float[] dropLearnedSigma(float[] src, Tensor target, ParameterStore store) {
        int c = store.get("x_embedder.proj.weight").dim(1);
        int outRows = target.dim(0), cols = target.rank() > 1 ? target.dim(1) : 1;
        float[] dst = new float[target.size()];
        for (int r = 0; r < outRows; r++) {
            int pix = r / c, ch = r % c;
            int srcRow = pix * 2 * c + ch;
            System.arraycopy(src, srcRow * cols, dst, r * cols, cols);
        }
        return dst;
    }
}
