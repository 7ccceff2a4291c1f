package erw.training;

import java.util.Locale;

/**
 * The training recipe: ERW (warmup + full phase), REPA (alignment, one phase), REED (alignment with
 * any number of targets under a curriculum that phases the diffusion loss in) or plain SiT.
 */
public enum Method {
    ERW, REPA, REED, SIT;

    public static Method parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown method '" + s + "': use erw, repa, reed or sit");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
