package erw.cli;

import java.util.Locale;

/** {@code --backend cpu | tornado | auto}: which engine backend runs the graphs. */
final class Backends {
    private Backends() {}

    record Choice(String name) {}

    static Choice choose(String requested) {
        String r = requested == null ? "auto" : requested.toLowerCase(Locale.ROOT);
        return switch (r) {
            case "cpu", "auto" -> new Choice("cpu");
            case "tornado" -> throw new IllegalArgumentException("--backend tornado: the TornadoVM backend is not in this build "
                    + "(install TornadoVM's SDK, source tornado-env.sh and build with the 'tornado' profile once it lands); use --backend cpu");
            default -> throw new IllegalArgumentException("--backend " + requested + ": use cpu, tornado or auto");
        };
    }
}
