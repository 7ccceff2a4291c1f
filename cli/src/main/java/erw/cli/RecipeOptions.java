package erw.cli;

import erw.training.TrainConfig;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The hyperparameters a recipe is tuned with, declared once for every command that trains
 * ({@code erw train}, {@code erw bench converge}); each one given overrides the recipe's value.
 */
final class RecipeOptions {
    @Option(names = "--align", description = "Alignment loss: cosine | ntxent (default: cosine).") String align;
    @Option(names = "--steps", description = "Total steps incl. the warmup (default: 1400 on the built-in data, 400000 otherwise).") Long steps;
    @Option(names = "--warmup-steps", description = "ERW Phase 1 steps (default: 10%% of --steps).") Long warmupSteps;
    @Option(names = "--batch", description = "Batch size (default: 64 on the built-in data, 256 otherwise).") Integer batch;
    @Option(names = "--lr", description = "AdamW learning rate (default: 1e-4; 1e-3 on the built-in data).") Double lr;
    @Option(names = "--ema-decay", description = "EMA decay (default: 0.9999; 0.995 on the built-in data).") Double emaDecay;
    @Option(names = "--l2r-depth", description = "Blocks of the ERW warmup model (default: 4; 2 on the built-in data).") Integer l2rDepth;
    @Option(names = "--c0", description = "Phase 2 lambda at the boundary (default: 6 XL, 3 L, 1 otherwise).") Double c0;
    @Option(names = "--half-life", description = "Phase 2 lambda half-life in steps (default 50000).") Double halfLife;
    @Option(names = "--warmup-lambda", description = "Phase 1 loss weight (default 0.5).") Double warmupLambda;
    @Option(names = "--repa-lambda", description = "REPA's alignment weight (default 0.5).") Double repaLambda;
    @Option(names = "--ntxent-tau", description = "NT-Xent temperature (default 0.1).") Double tau;
    @Option(names = "--ntxent-symmetric", description = "Symmetric NT-Xent (both directions).") boolean symmetric;
    @Option(names = "--label-dropout", description = "Probability of the null class (default 0.1).") Double labelDropout;
    @Option(names = "--clip", description = "Gradient-norm clip (default 1.0).") Double clip;
    @Option(names = "--weight-decay", description = "AdamW weight decay (default 0).") Double weightDecay;
    @Option(names = "--time-sampling", description = "uniform | lognormal (default uniform).") String timeSampling;
    @Option(names = "--target", description = "An alignment target (repeat for several): SET[:block=B][:pool=tokens|mean][:hidden=H][:z=Z][:coef=C]; "
            + "SET is a feature set of the dataset. Default: features (per token at --encoder-depth, coef 1); --method reed on the built-in data adds "
            + "autoencoder:block=4:pool=mean:coef=0.5.") List<String> targets;
    @Option(names = "--proj-coeff", description = "REED's c_proj: the alignment weight is c_proj * w_align(s) (default 0.5).") Double projCoeff;
    @Option(names = "--align-schedule", description = "REED's w_align(s): constant | linear | cosine (default constant).") String alignSchedule;
    @Option(names = "--align-steps", description = "Steps S of --align-schedule (default: --steps; REED's 400000).") Long alignSteps;
    @Option(names = "--diffusion-start", description = "REED: w_diff = 0 before this step (default 0).") Long diffusionStart;
    @Option(names = "--diffusion-warmup-steps", description = "REED: w_diff ramps 0 -> 1 over these steps (default: --steps / 8; REED's 50000 of 400000).") Long diffusionWarmupSteps;
    @Option(names = "--diffusion-decay", description = "REED: w_diff after the ramp: constant | linear | cosine (default constant).") String diffusionDecay;
    @Option(names = "--time-weight", description = "Per-sample weight w_t(t) of the alignment terms: constant | linear | cosine | sigmoid | loglinear | cutoff (default constant).") String timeWeight;
    @Option(names = "--time-cutoffs", split = ",", description = "lo,hi of --time-weight cutoff (default 0,1).") List<Double> timeCutoffs;

    @Option(names = "--precision", description = "Number format of the GEMM operands: fp32 | tf32 | bf16 (fp32 accumulation; weights, "
            + "optimizer state, norms, softmax and losses stay fp32; default fp32).") String precision;

    /** The recipe with every given option applied (validated when the config is built). */
    void applyTo(TrainConfig.Builder c) {
        if (c0 != null && !(c0 >= 0)) throw new IllegalArgumentException("--c0 " + c0 + " must be >= 0");
        if (align != null) c.align = align;
        if (steps != null) c.steps = steps;
        if (warmupSteps != null) c.warmupSteps = warmupSteps;
        if (batch != null) c.batch = batch;
        if (lr != null) c.lr = lr;
        if (emaDecay != null) c.emaDecay = emaDecay;
        if (l2rDepth != null) c.l2rDepth = l2rDepth;
        if (c0 != null) c.c0 = c0;
        if (halfLife != null) c.halfLife = halfLife;
        if (warmupLambda != null) c.warmupLambda = warmupLambda;
        if (repaLambda != null) c.repaLambda = repaLambda;
        if (tau != null) c.ntxentTau = tau;
        if (symmetric) c.ntxentSymmetric = true;
        if (labelDropout != null) c.labelDropout = labelDropout;
        if (clip != null) c.clip = clip;
        if (weightDecay != null) c.weightDecay = weightDecay;
        if (timeSampling != null) c.timeSampling = timeSampling;
        if (targets != null) c.targets = new java.util.ArrayList<>(targets);
        if (projCoeff != null) c.projCoeff = projCoeff;
        if (alignSchedule != null) c.alignSchedule = alignSchedule;
        if (alignSteps != null) c.alignSteps = alignSteps;
        if (diffusionStart != null) c.diffusionStart = diffusionStart;
        if (diffusionWarmupSteps != null) c.diffusionWarmupSteps = diffusionWarmupSteps;
        if (diffusionDecay != null) c.diffusionDecay = diffusionDecay;
        if (timeWeight != null) c.timeWeight = timeWeight;
        if (precision != null) c.precision = precision;
        if (timeCutoffs != null) {
            if (timeCutoffs.size() != 2) throw new IllegalArgumentException("--time-cutoffs " + timeCutoffs + " must be two numbers lo,hi");
            c.timeCutoffLow = timeCutoffs.get(0);
            c.timeCutoffHigh = timeCutoffs.get(1);
        }
    }
}
