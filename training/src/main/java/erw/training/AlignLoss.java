package erw.training;

import java.util.Locale;

/** The alignment loss of SPEC section 3. */
public enum AlignLoss {
    COSINE, NTXENT;

    public static AlignLoss parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown alignment loss '" + s + "': use cosine or ntxent");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
