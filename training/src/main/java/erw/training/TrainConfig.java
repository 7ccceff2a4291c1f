package erw.training;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import erw.engine.Precision;
import erw.model.TimeWeight;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.function.Consumer;

/**
 * Every hyperparameter of a run (SPEC sections 2-5), immutable and typed, with the published
 * defaults ({@link #defaults()}). A config is made from a {@link Builder} (the command line's and the
 * recipes' view: plain fields named as stored) and is valid once built: {@link Builder#build()}
 * checks every field, naming the option that sets it. Stored as JSON in the run directory and in
 * every checkpoint (the builder's fields, in their order), so a resumed run uses exactly the same
 * settings; on disk {@code -1} for {@code warmupSteps} and {@code c0} still means "the default", as
 * earlier versions wrote it, while in memory those are resolved or absent, never sentinels.
 *
 * @param warmupSteps ERW's Phase 1 length in steps; empty = 10% of {@code steps} (see {@link #warmup()})
 * @param c0 Phase 2's lambda at the phase boundary; empty = by model size ({@link Schedule#defaultC0})
 * @param targets the alignment targets; empty = one per-token target on the dataset's {@code features}
 *     at the model's encoder depth, coefficient 1 (REPA's and ERW's, see {@link #alignTargets()})
 * @param reed REED's curriculum and time weights (see {@link Reed}; used by {@code --method reed},
 *     the time weights by every aligning method)
 * @param precision the number format of the model's GEMM operands ({@code --precision}, see {@link Precision});
 *     weights, optimizer state and everything else stay fp32
 */
public record TrainConfig(Method method, AlignLoss align, long steps, OptionalLong warmupSteps, int batch, double lr, double beta1, double beta2,
                          double adamEps, double weightDecay, double clip, double emaDecay, double labelDropout, long seed, int l2rDepth,
                          double warmupLambda, OptionalDouble c0, double halfLife, double repaLambda, double ntxentTau, boolean ntxentSymmetric,
                          TimeSampling timeSampling, long checkpointEvery, long logEvery, long sampleEvery, int sampleSteps, double sampleCfg,
                          List<AlignTarget> targets, Reed reed, Precision precision) {

    public TrainConfig {
        targets = List.copyOf(targets);
    }

    /** The shape of a decay or ramp over training steps. */
    public enum Decay {
        CONSTANT, LINEAR, COSINE;

        static Decay parse(String option, String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--" + option + " = " + s + " must be constant, linear or cosine");
            }
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * REED's curriculum (its train.py): the diffusion loss weight w_diff is 0 before
     * {@code diffusionStart}, ramps linearly to 1 over {@code diffusionWarmupSteps}, then follows
     * {@code diffusionDecay}; the alignment weight is {@code projCoeff * w_align(s)} with w_align
     * following {@code alignSchedule} over {@code alignSteps}; each target's term is weighted per
     * sample by {@code timeWeight}(t) (cutoffs for {@code cutoff}).
     */
    public record Reed(double projCoeff, Decay alignSchedule, OptionalLong alignSteps, long diffusionStart, OptionalLong diffusionWarmupSteps,
                       Decay diffusionDecay, TimeWeight timeWeight, double timeCutoffLow, double timeCutoffHigh) {}

    /** The alignment targets actually used: {@link #targets}, or the single default one. */
    public List<AlignTarget> alignTargets() {
        return targets.isEmpty() ? List.of(AlignTarget.DEFAULT) : targets;
    }

    /** How diffusion times are drawn in the full phase. */
    public enum TimeSampling {
        /** t ~ U(0, 1). */
        UNIFORM,
        /** t = s / (1 + s), s = exp(n), n ~ N(0, 1). */
        LOGNORMAL;

        public static TimeSampling parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--time-sampling = " + s + " must be uniform or lognormal");
            }
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The published defaults (ImageNet scale: 400k steps, batch 256, lr 1e-4, EMA 0.9999). */
    public static TrainConfig defaults() {
        return new Builder().build();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.method = method.id();
        b.align = align.id();
        b.steps = steps;
        b.warmupSteps = warmupSteps.orElse(-1);
        b.batch = batch;
        b.lr = lr;
        b.beta1 = beta1;
        b.beta2 = beta2;
        b.adamEps = adamEps;
        b.weightDecay = weightDecay;
        b.clip = clip;
        b.emaDecay = emaDecay;
        b.labelDropout = labelDropout;
        b.seed = seed;
        b.l2rDepth = l2rDepth;
        b.warmupLambda = warmupLambda;
        b.c0 = c0.orElse(-1);
        b.halfLife = halfLife;
        b.repaLambda = repaLambda;
        b.ntxentTau = ntxentTau;
        b.ntxentSymmetric = ntxentSymmetric;
        b.timeSampling = timeSampling.id();
        b.checkpointEvery = checkpointEvery;
        b.logEvery = logEvery;
        b.sampleEvery = sampleEvery;
        b.sampleSteps = sampleSteps;
        b.sampleCfg = sampleCfg;
        b.targets = new ArrayList<>(targets.stream().map(AlignTarget::spec).toList());
        b.projCoeff = reed.projCoeff();
        b.alignSchedule = reed.alignSchedule().id();
        b.alignSteps = reed.alignSteps().orElse(-1);
        b.diffusionStart = reed.diffusionStart();
        b.diffusionWarmupSteps = reed.diffusionWarmupSteps().orElse(-1);
        b.diffusionDecay = reed.diffusionDecay().id();
        b.timeWeight = reed.timeWeight().id();
        b.timeCutoffLow = reed.timeCutoffLow();
        b.timeCutoffHigh = reed.timeCutoffHigh();
        b.precision = precision.id();
        return b;
    }

    /** A copy with some fields changed: {@code cfg.with(b -> b.steps = 3000)}; validated again. */
    public TrainConfig with(Consumer<Builder> change) {
        Builder b = toBuilder();
        change.accept(b);
        return b.build();
    }

    /** The Phase 1 length actually used: only ERW has one. */
    public long warmup() {
        return method != Method.ERW ? 0 : warmupSteps.orElse(steps / 10);
    }

    /** S of REED's w_align schedule: as set, or the run's steps. */
    public long alignSteps() {
        return reed.alignSteps().orElse(steps);
    }

    /** REED's diffusion ramp length: as set, or steps / 8 (REED's 50,000 of 400,000). */
    public long diffusionWarmup() {
        return reed.diffusionWarmupSteps().orElse(steps / 8);
    }

    /** Whether this recipe has an alignment term. */
    public boolean aligns() {
        return method != Method.SIT;
    }

    /**
     * The mutable form: fields named and ordered as stored in JSON, with the published defaults;
     * {@code -1} for {@code warmupSteps} (10% of the steps) and {@code c0} (by model size) means the default.
     */
    public static final class Builder {
        public String method = "erw";
        public String align = "cosine";
        public long steps = 400_000;
        /** ERW Phase 1 length; -1 = 10% of {@link #steps}. */
        public long warmupSteps = -1;
        public int batch = 256;
        public double lr = 1e-4;
        public double beta1 = 0.9, beta2 = 0.999, adamEps = 1e-8, weightDecay = 0;
        public double clip = 1.0;
        public double emaDecay = 0.9999;
        public double labelDropout = 0.1;
        public long seed = 0;
        /** Blocks of the ERW warmup model; its projector reads this block. */
        public int l2rDepth = 4;
        /** Phase 1 loss weight lambda_w. */
        public double warmupLambda = 0.5;
        /** Phase 2 lambda(s) = c0 * 2^(-min(s - W, S - W) / halfLife); -1 = by model size (6 XL, 3 L, 1 otherwise). */
        public double c0 = -1;
        public double halfLife = 50_000;
        /** REPA's constant alignment weight. */
        public double repaLambda = 0.5;
        public double ntxentTau = 0.1;
        public boolean ntxentSymmetric = false;
        /** "uniform" or "lognormal" (t = s/(1+s), s = exp(n)). */
        public String timeSampling = "uniform";
        public long checkpointEvery = 10_000;
        public long logEvery = 50;
        public long sampleEvery = 0;
        public int sampleSteps = 50;
        public double sampleCfg = 1.0;
        /**
         * Alignment targets, each "SET[:block=B][:pool=tokens|mean][:hidden=H][:z=Z][:coef=C]" (see
         * {@link AlignTarget#parse}); empty = one per-token target on "features", coefficient 1.
         */
        public List<String> targets = new ArrayList<>();
        /** REED's c_proj: the alignment sum's weight is projCoeff * w_align(s). */
        public double projCoeff = 0.5;
        /** REED's w_align(s): constant | linear max(1 - s/S, 0) | cosine (1 + cos(pi min(s,S)/S))/2. */
        public String alignSchedule = "constant";
        /** S of alignSchedule; -1 = steps (REED's 400,000 of 400,000). */
        public long alignSteps = -1;
        /** REED's start of the diffusion loss (w_diff = 0 before). */
        public long diffusionStart = 0;
        /** REED's linear ramp of w_diff from 0 to 1; -1 = steps / 8 (REED's 50,000 of 400,000). */
        public long diffusionWarmupSteps = -1;
        /** w_diff after the ramp: constant 1 | linear to 0 at the last step | cosine to 0. */
        public String diffusionDecay = "constant";
        /** Per-sample weight of the alignment terms by diffusion time t: see {@link TimeWeight}. */
        public String timeWeight = "constant";
        public double timeCutoffLow = 0, timeCutoffHigh = 1;
        /** fp32 | tf32 | bf16: GEMM operands (see {@link Precision}). */
        public String precision = "fp32";

        /** The config, with every field checked (the first bad one named as its command-line option). */
        public TrainConfig build() {
            validate();
            Method m = Method.parse(method);
            return new TrainConfig(m, AlignLoss.parse(align), steps, warmupSteps >= 0 ? OptionalLong.of(warmupSteps) : OptionalLong.empty(), batch, lr, beta1, beta2, adamEps, weightDecay, clip, emaDecay, labelDropout,
                    seed, l2rDepth, warmupLambda, c0 >= 0 ? OptionalDouble.of(c0) : OptionalDouble.empty(), halfLife, repaLambda, ntxentTau,
                    ntxentSymmetric, TimeSampling.parse(timeSampling), checkpointEvery, logEvery, sampleEvery, sampleSteps, sampleCfg,
                    targets.stream().map(AlignTarget::parse).toList(),
                    new Reed(projCoeff, Decay.parse("align-schedule", alignSchedule), alignSteps >= 0 ? OptionalLong.of(alignSteps) : OptionalLong.empty(), diffusionStart,
                            diffusionWarmupSteps >= 0 ? OptionalLong.of(diffusionWarmupSteps) : OptionalLong.empty(), Decay.parse("diffusion-decay", diffusionDecay),
                            TimeWeight.parse(timeWeight), timeCutoffLow, timeCutoffHigh),
                    Precision.parse("--precision", precision));
        }

        /** Checks every field, naming the first bad one (as the command-line option that sets it). */
        private void validate() {
                Method m = Method.parse(method);
                AlignLoss.parse(align);
            need(steps >= 1, "steps", steps, ">= 1");
            need(batch >= 2 || !(m != Method.SIT && align.equalsIgnoreCase("ntxent")), "batch", batch, ">= 2 for NT-Xent (it needs in-batch negatives)");
            need(batch >= 1, "batch", batch, ">= 1");
            if (m == Method.ERW) {
                need(warmupSteps >= -1, "warmup-steps", warmupSteps, ">= 0");
                need(warmupSteps < steps, "warmup-steps", warmupSteps, "< --steps (" + steps + "): the run must end in the full phase to have a model that samples");
                need(l2rDepth >= 1, "l2r-depth", l2rDepth, ">= 1");
            }
            finite("lr", lr);
            need(lr > 0, "lr", lr, "> 0");
            finite("beta1", beta1);
            finite("beta2", beta2);
            need(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas", beta1 + "," + beta2, "in [0, 1)");
            finite("adam-eps", adamEps);
            need(adamEps > 0, "adam-eps", adamEps, "> 0");
            finite("weight-decay", weightDecay);
            need(weightDecay >= 0, "weight-decay", weightDecay, ">= 0");
            finite("clip", clip);
            need(clip > 0, "clip", clip, "> 0");
            need(emaDecay >= 0 && emaDecay <= 1, "ema-decay", emaDecay, "in [0, 1]");
            need(labelDropout >= 0 && labelDropout <= 1, "label-dropout", labelDropout, "in [0, 1]");
            finite("warmup-lambda", warmupLambda);
            need(warmupLambda >= 0, "warmup-lambda", warmupLambda, ">= 0");
            finite("c0", c0);
            need(c0 >= 0 || c0 == -1, "c0", c0, ">= 0");
            finite("half-life", halfLife);
            need(halfLife > 0, "half-life", halfLife, "> 0");
            finite("repa-lambda", repaLambda);
            need(repaLambda >= 0, "repa-lambda", repaLambda, ">= 0");
            finite("ntxent-tau", ntxentTau);
            need(ntxentTau > 0, "ntxent-tau", ntxentTau, "> 0");
            need(timeSampling.equals("uniform") || timeSampling.equals("lognormal"), "time-sampling", timeSampling, "uniform or lognormal");
            need(checkpointEvery >= 0, "checkpoint-every", checkpointEvery, ">= 0 (0 = only at the end)");
            need(logEvery >= 1, "log-every", logEvery, ">= 1");
            need(sampleEvery >= 0, "sample-every", sampleEvery, ">= 0 (0 = only at the end)");
            need(sampleSteps >= 2, "sample-steps", sampleSteps, ">= 2");
            Precision.parse("--precision", precision);
            finite("sample-cfg", sampleCfg);
            need(sampleCfg >= 0, "sample-cfg", sampleCfg, ">= 0");
            need(targets != null, "target", "null", "a list");
            List<AlignTarget> parsed = targets.stream().map(AlignTarget::parse).toList();
            need(m != Method.SIT || parsed.isEmpty(), "target", targets, "absent for --method sit (it trains no projector)");
            if (!parsed.isEmpty()) need(!parsed.get(0).pooled(), "target", targets.get(0), "per token (pool=tokens): the first target is REPA's per-token one; list pooled targets after it");
            finite("proj-coeff", projCoeff);
            need(projCoeff >= 0, "proj-coeff", projCoeff, ">= 0");
            Decay.parse("align-schedule", alignSchedule);
            need(alignSteps >= 1 || alignSteps == -1, "align-steps", alignSteps, ">= 1");
            need(diffusionStart >= 0, "diffusion-start", diffusionStart, ">= 0");
            need(diffusionWarmupSteps >= 0 || diffusionWarmupSteps == -1, "diffusion-warmup-steps", diffusionWarmupSteps, ">= 0");
            Decay.parse("diffusion-decay", diffusionDecay);
            TimeWeight tw = TimeWeight.parse(timeWeight);
            finite("time-cutoffs", timeCutoffLow);
            finite("time-cutoffs", timeCutoffHigh);
            need(timeCutoffLow <= timeCutoffHigh, "time-cutoffs", timeCutoffLow + "," + timeCutoffHigh, "lo,hi with lo <= hi");
            need(tw == TimeWeight.CONSTANT || align.equalsIgnoreCase("cosine"), "time-weight", timeWeight, "constant with --align ntxent (NT-Xent couples the samples)");
            if (m == Method.REED) {
                long top = diffusionStart + (diffusionWarmupSteps >= 0 ? diffusionWarmupSteps : steps / 8);
                need(!diffusionDecay.equalsIgnoreCase("constant") ? top < steps : true, "diffusion-decay", diffusionDecay,
                        "constant when the diffusion ramp (--diffusion-start + --diffusion-warmup-steps = " + top + ") does not end before --steps");
            }
        }

        private static void need(boolean ok, String field, Object v, String expected) {
            if (!ok) throw new IllegalArgumentException("--" + field + " = " + v + " must be " + expected);
        }

        private static void finite(String field, double v) {
            need(Double.isFinite(v), field, v, "a finite number");
        }

    }

    private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /** Fields added with REED: a stored config from before may lack them (their defaults change nothing). */
    private static final java.util.Set<String> SINCE_REED = java.util.Set.of("targets", "projCoeff", "alignSchedule", "alignSteps", "diffusionStart",
            "diffusionWarmupSteps", "diffusionDecay", "timeWeight", "timeCutoffLow", "timeCutoffHigh");

    /** The stored form (the builder's fields, pretty-printed). */
    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toBuilder());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A stored config (run directory, checkpoint): every field must be present with a value of its
     * type, so a damaged or hand-edited config fails here, naming the field, instead of silently
     * falling back to a default (a missing {@code steps} would otherwise mean 400,000 steps).
     */
    public static TrainConfig fromJson(String json) {
        com.fasterxml.jackson.databind.JsonNode tree;
        try {
            tree = JSON.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException("training config is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (tree == null || !tree.isObject()) throw new IllegalArgumentException("training config is not a JSON object");
        com.fasterxml.jackson.databind.JsonNode defaults = JSON.valueToTree(new Builder());
        for (var it = defaults.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            com.fasterxml.jackson.databind.JsonNode v = tree.get(field), d = defaults.get(field);
            if (v == null && (SINCE_REED.contains(field) || field.equals("precision"))) continue; // written before: the default is what it did
            if (v == null) throw new IllegalArgumentException("training config: field '" + field + "' is missing");
            if (d.isArray()) {
                boolean strings = v.isArray();
                for (var e : v) strings &= e.isTextual();
                if (!strings) throw new IllegalArgumentException("training config: field '" + field + "' = " + v + " is not a list of strings");
                continue;
            }
            boolean ok = d.isTextual() ? v.isTextual() : d.isBoolean() ? v.isBoolean()
                    : d.isIntegralNumber() ? v.isIntegralNumber() && (d.isInt() ? v.canConvertToInt() : v.canConvertToLong()) : v.isNumber();
            if (!ok) throw new IllegalArgumentException("training config: field '" + field + "' = " + v + " is not a " + (d.isTextual() ? "string"
                    : d.isBoolean() ? "boolean" : d.isIntegralNumber() ? (d.isInt() ? "32-bit integer" : "64-bit integer") : "number"));
        }
        for (var it = tree.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!defaults.has(field)) throw new IllegalArgumentException("training config: unknown field '" + field + "'");
        }
        Builder b;
        try {
            b = JSON.treeToValue(tree, Builder.class);
        } catch (Exception e) {
            throw new IllegalArgumentException("training config is not valid: " + e.getMessage().lines().findFirst().orElse(""));
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("training config: " + e.getMessage().replaceFirst("^--", ""));
        }
    }

}
