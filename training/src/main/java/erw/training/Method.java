package erw.training;

import java.util.Locale;

/** The training recipe: ERW (warmup + full phase), REPA (alignment, one phase) or plain SiT. */
public enum Method {
    ERW, REPA, SIT;

    public static Method parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown method '" + s + "': use erw, repa or sit");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
