package erw.sampler;

/** The integrators of SPEC section 6. */
public enum SamplerKind {
    /** Euler-Maruyama SDE, t grid linspace(1, 0.04, K) then 0, noiseless last step. */
    SDE,
    /** ODE Euler on linspace(1, 0, K+1). */
    ODE,
    /** ODE Heun (2nd order), Euler on the last step. */
    HEUN;

    /** "sde", "ode" (or "euler"), "heun", any case; else an IllegalArgumentException naming the option. */
    public static SamplerKind parse(String name) {
        return switch (name == null ? "" : name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "sde" -> SDE;
            case "ode", "euler" -> ODE;
            case "heun" -> HEUN;
            default -> throw new IllegalArgumentException("--sampler '" + name + "' must be sde, ode or heun");
        };
    }
}
