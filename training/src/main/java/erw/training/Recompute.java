package erw.training;

import java.util.Locale;

/**
 * Activation recomputation ({@code --recompute}), like activation checkpointing in PyTorch: with
 * {@link #BLOCKS} only each transformer block's input is kept through the forward pass, and the
 * backward pass replays the block's forward before its gradients. Results are bit-identical; it
 * trades about a third more compute for activations that no longer grow with the depth.
 */
public enum Recompute {
    NONE, BLOCKS;

    public static Recompute parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--recompute " + s + " must be none or blocks");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
