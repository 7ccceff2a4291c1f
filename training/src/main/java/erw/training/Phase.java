package erw.training;

/**
 * The phase of a training step (SPEC section 4): ERW's warmup (the truncated model on clean inputs,
 * alignment only) or the full phase (velocity loss plus the recipe's alignment; REPA and SiT have
 * only this one). {@link #number()} is the phase as logs and checkpoints write it (1, 2).
 */
public enum Phase {
    WARMUP(1), FULL(2);

    private final int number;

    Phase(int number) {
        this.number = number;
    }

    public int number() {
        return number;
    }

    /** The phase a stored number names, or null for anything else. */
    public static Phase ofNumber(String s) {
        return switch (s.trim()) {
            case "1" -> WARMUP;
            case "2" -> FULL;
            default -> null;
        };
    }
}
