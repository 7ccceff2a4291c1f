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

    /** Checks every field, naming the first bad one. */
    public TrainConfig validate() {
        Method m = method();
        alignLoss();
        need(steps >= 1, "steps", steps, ">= 1");
        need(batch >= 2 || !(m != Method.SIT && align.equalsIgnoreCase("ntxent")), "batch", batch, ">= 2 for NT-Xent (it needs in-batch negatives)");
        need(batch >= 1, "batch", batch, ">= 1");
        if (m == Method.ERW) {
            need(warmupSteps <= steps, "warmup-steps", warmupSteps, "<= steps (" + steps + ")");
            need(l2rDepth >= 1, "l2r-depth", l2rDepth, ">= 1");
        }
        need(lr > 0, "lr", lr, "> 0");
        need(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas", beta1 + "," + beta2, "in [0, 1)");
        need(clip > 0, "clip", clip, "> 0");
        need(emaDecay >= 0 && emaDecay <= 1, "ema-decay", emaDecay, "in [0, 1]");
        need(labelDropout >= 0 && labelDropout <= 1, "label-dropout", labelDropout, "in [0, 1]");
        need(halfLife > 0, "half-life", halfLife, "> 0");
        need(ntxentTau > 0, "ntxent-tau", ntxentTau, "> 0");
        need(timeSampling.equals("uniform") || timeSampling.equals("lognormal"), "time-sampling", timeSampling, "uniform or lognormal");
        need(checkpointEvery >= 0 && logEvery >= 1 && sampleEvery >= 0, "checkpoint/log/sample intervals", checkpointEvery + "/" + logEvery + "/" + sampleEvery, "non-negative (log >= 1)");
        return this;
    }

    private static void need(boolean ok, String field, Object v, String expected) {
        if (!ok) throw new IllegalArgumentException("--" + field + " = " + v + " must be " + expected);
    }

    private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(this);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static TrainConfig fromJson(String json) {
        try {
            return JSON.readValue(json, TrainConfig.class);
        } catch (Exception e) {
            throw new IllegalArgumentException("training config is not valid: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    public TrainConfig copy() {
        return fromJson(toJson());
    }
}
