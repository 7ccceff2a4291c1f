package erw.model;

import java.util.Locale;

/**
 * REED's per-sample weight of the alignment terms as a function of the diffusion time t in [0, 1]
 * (t = 0 is the clean image): {@code w_t(t)} in {@code mean_batch[w_t(t) * align_k]}. Computed on
 * the host per step (it depends on the drawn t only), passed to the loss as a tensor.
 */
public enum TimeWeight {
    /** 1 (the default: REPA's and ERW's unweighted mean). */
    CONSTANT,
    /** 1 - t. */
    LINEAR,
    /** (1 + cos(pi t)) / 2. */
    COSINE,
    /** 1 / (1 + exp(10 (t - 0.5))). */
    SIGMOID,
    /** 1 - ln(1 + t). */
    LOGLINEAR,
    /** 1 inside [lo, hi], 0 outside. */
    CUTOFF;

    public static TimeWeight parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--time-weight = " + s + " must be constant, linear, cosine, sigmoid, loglinear or cutoff");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** w_t(t); {@code lo}, {@code hi} are the cutoffs (used by {@link #CUTOFF} only). */
    public float apply(float t, double lo, double hi) {
        return switch (this) {
            case CONSTANT -> 1f;
            case LINEAR -> 1f - t;
            case COSINE -> (float) (0.5 * (1 + Math.cos(Math.PI * t)));
            case SIGMOID -> (float) (1 / (1 + Math.exp((t - 0.5) * 10)));
            case LOGLINEAR -> (float) (1 - Math.log(t + 1.0));
            case CUTOFF -> t < lo || t > hi ? 0f : 1f;
        };
    }

    /** Fills {@code w} with w_t of each {@code t}. */
    public void fill(float[] t, float[] w, double lo, double hi) {
        for (int i = 0; i < t.length; i++) w[i] = apply(t[i], lo, hi);
    }
}
