package erw.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The shape of a SiT (SPEC section 1): depth, hidden size D, heads, patch p, input side, channels,
 * classes (the null class is row {@code numClasses}), the projector's block ({@code encoderDepth},
 * 1-based), its hidden width and the target width Z, and the published ERW options.
 * {@code truncatedDepth > 0} makes the ERW warmup model: only that many blocks, no final layer,
 * every projector on the last block.
 *
 * <p>Projectors: projector 0 is REPA's per-token MLP ({@code encoderDepth}, {@code projectorDim},
 * {@code zDim}; parameters {@code projectors.0.*}, the published names); {@code extraProjectors}
 * are REED's further alignment targets, projector k = 1, 2, ... reading its own block, per token or
 * mean-pooled over tokens ({@code projectors.k.*}). {@link #projectors()} lists them all in order.
 */
public record SiTConfig(int depth, int hiddenSize, int numHeads, int patchSize, int inputSize, int inChannels,
                        int numClasses, int encoderDepth, int projectorDim, int zDim, double mlpRatio,
                        boolean qkNorm, boolean rope, int truncatedDepth, List<Projector> extraProjectors) {

    /**
     * One projector MLP (hidden -> width -> width -> z, SiLU between): the block (1-based) whose
     * output it reads, and whether it reads every token or their mean (one vector per sample).
     */
    public record Projector(int block, boolean pooled, int width, int zDim) {
        public Projector {
            require(width >= 1, "projector_dim", width, ">= 1");
            require(zDim >= 1, "z_dim", zDim, ">= 1");
        }
    }

    /** A model with projector 0 only (REPA, ERW). */
    public SiTConfig(int depth, int hiddenSize, int numHeads, int patchSize, int inputSize, int inChannels,
                     int numClasses, int encoderDepth, int projectorDim, int zDim, double mlpRatio,
                     boolean qkNorm, boolean rope, int truncatedDepth) {
        this(depth, hiddenSize, numHeads, patchSize, inputSize, inChannels, numClasses, encoderDepth, projectorDim, zDim, mlpRatio, qkNorm, rope, truncatedDepth, List.of());
    }

    public SiTConfig {
        extraProjectors = List.copyOf(extraProjectors);
        for (int k = 0; k < extraProjectors.size(); k++) {
            int b = extraProjectors.get(k).block();
            require(b >= 1 && b <= depth, "extra_projectors[" + k + "].encoder_depth", b, "in [1, depth=" + depth + "]");
        }
        require(depth >= 1, "depth", depth, ">= 1");
        require(hiddenSize >= 1, "hidden_size", hiddenSize, ">= 1");
        require(numHeads >= 1 && hiddenSize % numHeads == 0, "num_heads", numHeads, "a divisor of hidden_size " + hiddenSize);
        require(patchSize >= 1, "patch_size", patchSize, ">= 1");
        require(inputSize >= patchSize && inputSize % patchSize == 0, "input_size", inputSize, "a multiple of patch_size " + patchSize);
        require(inChannels >= 1, "in_channels", inChannels, ">= 1");
        require(numClasses >= 1, "num_classes", numClasses, ">= 1");
        require(encoderDepth >= 1 && encoderDepth <= depth, "encoder_depth", encoderDepth, "in [1, depth=" + depth + "]");
        require(projectorDim >= 1, "projector_dim", projectorDim, ">= 1");
        require(zDim >= 1, "z_dim", zDim, ">= 1");
        require(mlpRatio > 0, "mlp_ratio", mlpRatio, "> 0");
        require(truncatedDepth >= 0 && truncatedDepth <= depth, "truncated_depth", truncatedDepth, "in [0, depth]");
        require(!rope || (hiddenSize / numHeads) % 2 == 0, "rope", rope, "used with an even head dimension");
    }

    private static void require(boolean ok, String field, Object value, String expected) {
        if (!ok) throw new IllegalArgumentException("model config: " + field + " = " + value + " must be " + expected);
    }

    /** Presets as named in the published code: (depth, hidden, heads). */
    private static final Map<String, int[]> SIZES = new LinkedHashMap<>();

    static {
        SIZES.put("S", new int[]{12, 384, 6});
        SIZES.put("B", new int[]{12, 768, 12});
        SIZES.put("L", new int[]{24, 1024, 16});
        SIZES.put("XL", new int[]{28, 1152, 16});
    }

    /**
     * {@code SiT-S/2} ... {@code SiT-XL/8} for ImageNet 256 latents (32x32x4, 1000 classes, projector
     * 2048 -> Z 768 at depth 8), or {@code tiny} (the Fashion-MNIST default, 32x32x1).
     */
    public static SiTConfig named(String name) {
        if (name.equalsIgnoreCase("tiny")) return tiny();
        String n = name.trim();
        if (n.startsWith("SiT-")) {
            String[] parts = n.substring(4).split("/");
            if (parts.length == 2 && SIZES.containsKey(parts[0].toUpperCase(Locale.ROOT))) {
                int[] s = SIZES.get(parts[0].toUpperCase(Locale.ROOT));
                try {
                    int p = Integer.parseInt(parts[1]);
                    if (p == 2 || p == 4 || p == 8) return new SiTConfig(s[0], s[1], s[2], p, 32, 4, 1000, 8, 2048, 768, 4.0, false, false, 0);
                } catch (NumberFormatException ignored) {
                    // fall through to the error
                }
            }
        }
        throw new IllegalArgumentException("unknown model '" + name + "': use SiT-S/2, SiT-B/4, SiT-L/8, SiT-XL/2 (S, B, L, XL with patch 2, 4 or 8) or tiny");
    }

    /** The CPU-sized default for Fashion-MNIST: depth 6, D 192, 3 heads, patch 4 on 32x32x1. */
    public static SiTConfig tiny() {
        return new SiTConfig(6, 192, 3, 4, 32, 1, 10, 2, 512, 64, 4.0, false, false, 0);
    }

    public int tokens() {
        int g = inputSize / patchSize;
        return g * g;
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    public int mlpHidden() {
        return (int) (hiddenSize * mlpRatio);
    }

    public boolean truncated() {
        return truncatedDepth > 0;
    }

    /** Blocks the model holds. */
    public int blocks() {
        return truncated() ? truncatedDepth : depth;
    }

    /** The block (1-based) whose output projector 0 reads. */
    public int projectorBlock() {
        return projectorBlock(0);
    }

    /** The block (1-based) whose output projector k reads: its own, or the last one of a warmup model. */
    public int projectorBlock(int k) {
        return truncated() ? truncatedDepth : projectors().get(k).block();
    }

    /** Every projector in order: projector 0 (per token), then {@link #extraProjectors()}. */
    public List<Projector> projectors() {
        List<Projector> all = new ArrayList<>(1 + extraProjectors.size());
        all.add(new Projector(encoderDepth, false, projectorDim, zDim));
        all.addAll(extraProjectors);
        return all;
    }

    /** The ERW warmup model of this config: the first {@code k} blocks, no final layer. */
    public SiTConfig truncatedTo(int k) {
        return new SiTConfig(depth, hiddenSize, numHeads, patchSize, inputSize, inChannels, numClasses, encoderDepth, projectorDim, zDim, mlpRatio, qkNorm, rope, k, extraProjectors);
    }

    public SiTConfig full() {
        return truncatedTo(0);
    }

    public SiTConfig withEncoderDepth(int d) {
        return new SiTConfig(depth, hiddenSize, numHeads, patchSize, inputSize, inChannels, numClasses, d, projectorDim, zDim, mlpRatio, qkNorm, rope, truncatedDepth, extraProjectors);
    }

    /** This model with the given projectors (the first becomes projector 0, which must read tokens). */
    public SiTConfig withProjectors(List<Projector> all) {
        if (all.isEmpty()) throw new IllegalArgumentException("model config: at least one projector is needed");
        Projector p0 = all.get(0);
        require(!p0.pooled(), "projectors[0].pooled", true, "false: projector 0 (the published REPA projector) reads every token; put pooled targets after a per-token one");
        return new SiTConfig(depth, hiddenSize, numHeads, patchSize, inputSize, inChannels, numClasses, p0.block(), p0.width(), p0.zDim(), mlpRatio, qkNorm, rope,
                truncatedDepth, all.subList(1, all.size()));
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** JSON with the keys of the PyTorch reference (tools/torch), stored in checkpoints' metadata. */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("depth", depth).put("hidden_size", hiddenSize).put("num_heads", numHeads).put("patch_size", patchSize)
                .put("input_size", inputSize).put("in_channels", inChannels).put("num_classes", numClasses)
                .put("encoder_depth", encoderDepth).put("projector_dim", projectorDim).put("z_dim", zDim)
                .put("mlp_ratio", mlpRatio).put("qk_norm", qkNorm).put("rope", rope);
        if (truncatedDepth > 0) o.put("truncated_depth", truncatedDepth);
        if (!extraProjectors.isEmpty()) {
            ArrayNode a = o.putArray("extra_projectors");
            for (Projector p : extraProjectors) {
                a.addObject().put("encoder_depth", p.block()).put("pooled", p.pooled()).put("projector_dim", p.width()).put("z_dim", p.zDim());
            }
        }
        return o.toString();
    }

    public static SiTConfig fromJson(String json) {
        JsonNode o;
        try {
            o = JSON.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException("model config is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (o == null || !o.isObject()) throw new IllegalArgumentException("model config is not a JSON object");
        List<Projector> extra = new ArrayList<>();
        JsonNode ex = o.path("extra_projectors");
        if (!ex.isMissingNode() && !ex.isNull()) {
            if (!ex.isArray()) throw new IllegalArgumentException("model config: 'extra_projectors' must be a list");
            for (int k = 0; k < ex.size(); k++) {
                JsonNode p = ex.get(k);
                if (!p.isObject() || !p.path("pooled").isBoolean()) throw new IllegalArgumentException("model config: extra_projectors[" + k + "] needs encoder_depth, pooled (true/false), projector_dim, z_dim");
                extra.add(new Projector(req(p, "encoder_depth").asInt(), p.path("pooled").asBoolean(), req(p, "projector_dim").asInt(), req(p, "z_dim").asInt()));
            }
        }
        return new SiTConfig(req(o, "depth").asInt(), req(o, "hidden_size").asInt(), req(o, "num_heads").asInt(),
                req(o, "patch_size").asInt(), req(o, "input_size").asInt(), req(o, "in_channels").asInt(),
                req(o, "num_classes").asInt(), req(o, "encoder_depth").asInt(), req(o, "projector_dim").asInt(),
                req(o, "z_dim").asInt(), o.path("mlp_ratio").asDouble(4.0), o.path("qk_norm").asBoolean(false),
                o.path("rope").asBoolean(false), o.path("truncated_depth").asInt(0), extra);
    }

    private static JsonNode req(JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || !v.isNumber()) throw new IllegalArgumentException("model config: missing or non-numeric field '" + key + "'");
        return v;
    }
}
