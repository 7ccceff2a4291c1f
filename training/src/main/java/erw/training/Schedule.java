package erw.training;

/**
 * The step-dependent parts of a run (SPEC section 4): which phase a global step belongs to and the
 * weight of the alignment loss. Pure functions of the step, so a resumed run sees the same values.
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
            case ERW -> {
                long w = cfg.warmup();
                if (s < w) yield cfg.warmupLambda();
                long k = Math.min(s - w, cfg.steps() - w);
                yield c0 * Math.pow(2, -k / cfg.halfLife());
            }
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
