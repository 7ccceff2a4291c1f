package erw.training;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Every hyperparameter of a run (SPEC sections 2-5), with the published defaults. Stored as JSON in
 * the run directory and in every checkpoint, so a resumed run uses exactly the same settings.
 */
public final class TrainConfig {
    public String method = "erw";
    public String align = "cosine";
    public long steps = 400_000;
    /** ERW Phase 1 length; negative means the default, 10% of {@link #steps}. */
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
    /** Phase 2 lambda(s) = c0 * 2^(-min(s - W, S - W) / halfLife); negative c0 = by model size (6 XL, 3 L, 1 otherwise). */
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

    public Method method() {
        return Method.parse(method);
    }

    public AlignLoss alignLoss() {
        return AlignLoss.parse(align);
    }

    /** Phase 1 length actually used: only ERW has one. */
    public long warmup() {
        if (method() != Method.ERW) return 0;
        return warmupSteps >= 0 ? warmupSteps : steps / 10;
    }

    /** Checks every field, naming the first bad one (as the command-line option that sets it). */
    public TrainConfig validate() {
        Method m = method();
        alignLoss();
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
        finite("sample-cfg", sampleCfg);
        need(sampleCfg >= 0, "sample-cfg", sampleCfg, ">= 0");
        return this;
    }

    private static void need(boolean ok, String field, Object v, String expected) {
        if (!ok) throw new IllegalArgumentException("--" + field + " = " + v + " must be " + expected);
    }

    private static void finite(String field, double v) {
        need(Double.isFinite(v), field, v, "a finite number");
    }

    private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(this);
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
        com.fasterxml.jackson.databind.JsonNode defaults = JSON.valueToTree(new TrainConfig());
        for (var it = defaults.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            com.fasterxml.jackson.databind.JsonNode v = tree.get(field), d = defaults.get(field);
            if (v == null) throw new IllegalArgumentException("training config: field '" + field + "' is missing");
            boolean ok = d.isTextual() ? v.isTextual() : d.isBoolean() ? v.isBoolean()
                    : d.isIntegralNumber() ? v.isIntegralNumber() && (d.isInt() ? v.canConvertToInt() : v.canConvertToLong()) : v.isNumber();
            if (!ok) throw new IllegalArgumentException("training config: field '" + field + "' = " + v + " is not a " + (d.isTextual() ? "string"
                    : d.isBoolean() ? "boolean" : d.isIntegralNumber() ? (d.isInt() ? "32-bit integer" : "64-bit integer") : "number"));
        }
        for (var it = tree.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!defaults.has(field)) throw new IllegalArgumentException("training config: unknown field '" + field + "'");
        }
        TrainConfig c;
        try {
            c = JSON.treeToValue(tree, TrainConfig.class);
        } catch (Exception e) {
            throw new IllegalArgumentException("training config is not valid: " + e.getMessage().lines().findFirst().orElse(""));
        }
        try {
            return c.validate();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("training config: " + e.getMessage().replaceFirst("^--", ""));
        }
    }

    public TrainConfig copy() {
        return fromJson(toJson());
    }
}
