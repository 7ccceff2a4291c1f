package erw.training;

import java.util.Locale;

/**
 * One alignment target of a run: the dataset's feature set it reads, the block (1-based) whose
 * output its projector reads, per token or mean-pooled over tokens, the projector's hidden width,
 * its output width z, and its coefficient in {@code sum_k coef_k * term_k}. Written on the command
 * line and in the stored config as {@code SET[:block=B][:pool=tokens|mean][:hidden=H][:z=Z][:coef=C]};
 * 0 for block, hidden or z means "the model's" (its encoder depth, its projector width, the width of
 * the feature set in the dataset).
 *
 * <p>REED's ImageNet recipe in this form: {@code features:block=8:coef=1} (DINOv2 patch tokens) and
 * {@code captions:block=16:pool=mean:hidden=2048:coef=0.5} (a VLM's pooled embedding of image and caption).
 */
public record AlignTarget(String features, int block, boolean pooled, int hidden, int z, double coef) {
    /** REPA's and ERW's single target: the dataset's {@code features}, per token, coefficient 1. */
    public static final AlignTarget DEFAULT = new AlignTarget("features", 0, false, 0, 0, 1.0);

    public AlignTarget {
        if (features == null || !features.matches("[A-Za-z0-9_\\-]+")) {
            throw new IllegalArgumentException("--target: feature set name '" + features + "' must be letters, digits, '_' or '-'");
        }
        if (block < 0) throw new IllegalArgumentException("--target " + features + ": block=" + block + " must be >= 1");
        if (hidden < 0) throw new IllegalArgumentException("--target " + features + ": hidden=" + hidden + " must be >= 1");
        if (z < 0) throw new IllegalArgumentException("--target " + features + ": z=" + z + " must be >= 1");
        if (!(coef >= 0) || Double.isInfinite(coef)) throw new IllegalArgumentException("--target " + features + ": coef=" + coef + " must be a finite number >= 0");
    }

    /** Parses {@code SET[:block=B][:pool=tokens|mean][:hidden=H][:z=Z][:coef=C]}; errors name the option and the part at fault. */
    public static AlignTarget parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("--target: empty; use SET[:block=B][:pool=tokens|mean][:hidden=H][:z=Z][:coef=C]");
        String[] parts = spec.trim().split(":");
        int block = 0, hidden = 0, z = 0;
        boolean pooled = false;
        double coef = 1.0;
        for (int i = 1; i < parts.length; i++) {
            String[] kv = parts[i].split("=", 2);
            if (kv.length != 2) throw new IllegalArgumentException("--target " + spec + ": '" + parts[i] + "' is not key=value (block, pool, hidden, z, coef)");
            String k = kv[0].trim().toLowerCase(Locale.ROOT), v = kv[1].trim();
            try {
                switch (k) {
                    case "block" -> block = positive(spec, k, v);
                    case "hidden" -> hidden = positive(spec, k, v);
                    case "z" -> z = positive(spec, k, v);
                    case "coef" -> coef = Double.parseDouble(v);
                    case "pool" -> pooled = switch (v.toLowerCase(Locale.ROOT)) {
                        case "mean" -> true;
                        case "tokens", "none" -> false;
                        default -> throw new IllegalArgumentException("--target " + spec + ": pool=" + v + " must be tokens or mean");
                    };
                    default -> throw new IllegalArgumentException("--target " + spec + ": unknown key '" + kv[0] + "' (use block, pool, hidden, z, coef)");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--target " + spec + ": " + k + "=" + v + " is not a number");
            }
        }
        return new AlignTarget(parts[0].trim(), block, pooled, hidden, z, coef);
    }

    private static int positive(String spec, String k, String v) {
        int n = Integer.parseInt(v);
        if (n < 1) throw new IllegalArgumentException("--target " + spec + ": " + k + "=" + v + " must be >= 1");
        return n;
    }

    /**
     * The per-sample shape of this target's feature set in {@code data}, or a one-line error naming
     * the target and the sets the data has.
     */
    public int[] shapeIn(BatchSource data) {
        int[] f = data.featureShape(features);
        if (f == null) {
            throw new IllegalArgumentException("--target " + spec() + ": the dataset has no feature set '" + features + "' (it has "
                    + (data.featureSets().isEmpty() ? "none: add target features with erw data features or erw data add-features, or use --method sit" : data.featureSets()) + ")");
        }
        return f;
    }

    /** The canonical spec (what {@link #parse} reads back to an equal target). */
    public String spec() {
        StringBuilder sb = new StringBuilder(features);
        if (block > 0) sb.append(":block=").append(block);
        if (pooled) sb.append(":pool=mean");
        if (hidden > 0) sb.append(":hidden=").append(hidden);
        if (z > 0) sb.append(":z=").append(z);
        if (coef != 1.0) sb.append(":coef=").append(coef);
        return sb.toString();
    }
}
