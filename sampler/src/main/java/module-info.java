/** Samplers (Euler-Maruyama SDE, ODE Euler/Heun, CFG) and the sampler-only command line. */
module erw.sampler {
    requires transitive erw.model;
    requires info.picocli;
    requires java.desktop;
    exports erw.sampler;
    opens erw.sampler to info.picocli;
}
