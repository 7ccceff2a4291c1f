package erw.cli;

import erw.training.TrainConfig;
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
    }
}
