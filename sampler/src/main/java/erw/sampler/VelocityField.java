package erw.sampler;

/**
 * The model as the samplers see it: the velocity v(x, t, y) for a batch. The batch size is
 * implicit: {@code labels.length} rows, each of {@code x.length / labels.length} values
 * (C*H*W for images). Implementations write {@code out} (same length as {@code x}) and must not
 * keep references to the arrays.
 *
 * <p>{@link Sampler} calls it with N rows (no guidance) or 2N rows (classifier-free guidance:
 * the N conditional rows first, then the same N inputs with the null class {@link #nullClass()}).
 */
@FunctionalInterface
public interface VelocityField {

    /** Writes v(x, t, labels) into {@code out}; {@code t} is the same for every row. */
    void velocity(float[] x, double t, float[] labels, float[] out);

    /** The class id that means "no class" (CFG's unconditional half); negative when the field has none. */
    default int nullClass() {
        return -1;
    }
}
