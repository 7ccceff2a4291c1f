package erw.training;

/**
 * The step-dependent parts of a run (SPEC section 4; REED's curriculum): which phase a global step
 * belongs to, the weight of the velocity loss and the weight of the alignment loss. Pure functions of
 * the (0-based) step, so a resumed run sees the same values.
 */
public final class Schedule {
    private final TrainConfig cfg;
    private final Method method;
    private final double c0;

    public Schedule(TrainConfig cfg, int modelDepth, int modelHidden) {
        this.cfg = cfg;
        this.method = cfg.method();
        this.c0 = cfg.c0().orElse(defaultC0(modelDepth, modelHidden));
    }

    /** c0 = 6 for XL, 3 for L, 1 otherwise (by the published depth/width). */
    public static double defaultC0(int depth, int hidden) {
        if (depth == 28 && hidden == 1152) return 6;
        if (depth == 24 && hidden == 1024) return 3;
        return 1;
    }

    /** The ERW warmup, or the full phase (REPA and SiT have only the full phase). */
    public Phase phase(long step) {
        return step < cfg.warmup() ? Phase.WARMUP : Phase.FULL;
    }

    /** Weight of the alignment loss at global step s (0-based). */
    public double lambda(long s) {
        return switch (method) {
            case SIT -> 0;
            case REPA -> cfg.repaLambda();
            case REED -> cfg.reed().projCoeff() * wAlign(s);
            case ERW -> {
                long w = cfg.warmup();
                if (s < w) yield cfg.warmupLambda();
                long k = Math.min(s - w, cfg.steps() - w);
                yield c0 * Math.pow(2, -k / cfg.halfLife());
            }
        };
    }

    /**
     * REED's w_align(s): 1 (constant), max(1 - s/S, 0) (linear) or (1 + cos(pi min(s, S)/S))/2
     * (cosine), S = {@link TrainConfig#alignSteps()}. REED's code leaves the cosine unclamped, so it
     * would rise again after S; here it stays 0 (identical up to S, which defaults to the run's end).
     */
    public double wAlign(long s) {
        double S = cfg.alignSteps();
        return switch (cfg.reed().alignSchedule()) {
            case CONSTANT -> 1;
            case LINEAR -> Math.max(1 - s / S, 0);
            case COSINE -> (1 + Math.cos(Math.PI * Math.min(s, S) / S)) / 2;
        };
    }

    /**
     * The velocity loss weight w_diff(s): 1 for ERW's full phase, REPA and SiT; for REED 0 before
     * the start, a linear ramp (s - start)/W over the next W steps, then 1 (constant), a linear decay
     * to 0 at the last step, or a cosine decay. REED's code writes the cosine as
     * {@code cos(pi * (s - top) / S - top)} (an operator-precedence slip); this is the intended
     * {@code (1 + cos(pi (s - top)/(S - top)))/2}.
     */
    public double wDiff(long s) {
        if (method != Method.REED) return 1;
        long start = cfg.reed().diffusionStart(), w = cfg.diffusionWarmup(), top = start + w;
        if (s < start) return 0;
        if (s < top) return (double) (s - start) / w;
        double span = cfg.steps() - top;
        return switch (cfg.reed().diffusionDecay()) {
            case CONSTANT -> 1;
            case LINEAR -> 1 - (s - top) / span;
            case COSINE -> (1 + Math.cos(Math.PI * (s - top) / span)) / 2;
        };
    }

    /** Whether phase 2 has an alignment term at all. */
    public boolean aligns() {
        return method != Method.SIT;
    }

    public double c0() {
        return c0;
    }
}
