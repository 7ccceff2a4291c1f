/** Samplers (Euler-Maruyama SDE, ODE Euler/Heun, CFG) on the engine; the command line is in {@code erw.sampler.cli}. */
module erw.sampler {
    requires transitive erw.model;
    requires java.desktop;
    exports erw.sampler;
}
