package erw.training;

import erw.model.SiTConfig;

/**
 * The named recipes of erw as code: the Fashion-MNIST main job (its short-run preset and tiny SiT),
 * and the model a run trains on a given dataset. The CLI, the benchmarks and tests all start here.
 */
public final class Recipes {
    private Recipes() {}

    /**
     * The main job's settings on the built-in data, sized for ~20 minutes on 2 cores: 1,400 steps at
     * batch 64, lr 1e-3, EMA 0.995, a 2-block warmup model; every other field as {@code base}.
     */
    public static TrainConfig builtInDefaults(TrainConfig base) {
        return base.with(b -> {
            b.steps = 1400;
            b.batch = 64;
            b.lr = 1e-3;
            b.emaDecay = 0.995;
            b.l2rDepth = 2;
            b.checkpointEvery = 500;
            b.logEvery = 20;
            b.sampleEvery = 0;
        });
    }

    /**
     * REED's targets on the built-in data: the ViT's patch tokens per token at the model's encoder
     * depth (coefficient 1), and the autoencoder's code (the stand-in for caption embeddings) pooled
     * at block 4 of 6 (REED reads block 16 of SiT-XL's 28), coefficient 0.5 as REED's second target.
     */
    public static final java.util.List<String> BUILT_IN_REED_TARGETS = java.util.List.of(BatchSource.FEATURES,
            erw.training.data.BuiltInData.AUTOENCODER + ":block=4:pool=mean:coef=0.5");

    /** A config for the built-in data: REED without explicit targets gets {@link #BUILT_IN_REED_TARGETS}. */
    public static TrainConfig forBuiltIn(TrainConfig cfg) {
        return cfg.method() == Method.REED && cfg.targets().isEmpty() ? cfg.with(b -> b.targets = new java.util.ArrayList<>(BUILT_IN_REED_TARGETS)) : cfg;
    }

    /** The main job: ERW with the built-in defaults. */
    public static TrainConfig mainJob() {
        return builtInDefaults(TrainConfig.defaults());
    }

    /** The tiny SiT for 32x32x1 Fashion-MNIST with the projector at block 2, target width z. */
    public static SiTConfig fashionModel(int z) {
        return new SiTConfig(6, 192, 3, 4, 32, 1, 10, 2, 512, z, 4.0, false, false, 0);
    }

    /**
     * A model named {@code tiny} (the Fashion-MNIST SiT) or {@code SiT-S/2} ... {@code SiT-XL/8}, with
     * overrides (absent = the named model's value), sized to a dataset: its image shape and classes,
     * and its target features' width (768 without features).
     */
    public record ModelChoice(String name, Integer depth, Integer hidden, Integer heads, Integer patch, Integer encoderDepth, Integer projectorDim, boolean qkNorm) {
        public static final ModelChoice TINY = new ModelChoice("tiny", null, null, null, null, null, null, false);

        public SiTConfig forData(BatchSource source) {
            int[] img = source.imageShape();
            int z = source.hasFeatures() ? source.featureShape()[1] : 768;
            SiTConfig base = name.equalsIgnoreCase("tiny") ? fashionModel(z) : SiTConfig.named(name);
            return new SiTConfig(depth != null ? depth : base.depth(), hidden != null ? hidden : base.hiddenSize(), heads != null ? heads : base.numHeads(),
                    patch != null ? patch : base.patchSize(), img[1], img[0], source.numClasses(),
                    encoderDepth != null ? encoderDepth : base.encoderDepth(), projectorDim != null ? projectorDim : base.projectorDim(), z,
                    base.mlpRatio(), qkNorm, false, 0);
        }

        /**
         * The model for a run: {@link #forData(BatchSource)} with one projector per alignment target
         * of {@code cfg} (its block, pooling and widths; unset ones from the model: the encoder depth,
         * the projector width, the feature set's width). Errors name the target at fault.
         */
        public SiTConfig forRun(BatchSource source, TrainConfig cfg) {
            SiTConfig m = forData(source);
            if (!cfg.aligns()) return m;
            java.util.List<SiTConfig.Projector> projectors = new java.util.ArrayList<>();
            for (AlignTarget a : cfg.alignTargets()) {
                int[] f = a.shapeIn(source);
                int block = a.block() > 0 ? a.block() : m.encoderDepth();
                if (block > m.depth()) throw new IllegalArgumentException("--target " + a.spec() + ": block " + block + " is beyond the model's depth " + m.depth());
                projectors.add(new SiTConfig.Projector(block, a.pooled(), a.hidden() > 0 ? a.hidden() : m.projectorDim(), a.z() > 0 ? a.z() : f[f.length - 1]));
            }
            return m.withProjectors(projectors);
        }
    }
}
