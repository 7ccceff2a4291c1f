/** The sampler-only command line ({@code erw sample}): starts with the engine, model and sampler libraries alone. */
module erw.sampler.cli {
    requires transitive erw.sampler;
    requires info.picocli;
    requires java.desktop;
    exports erw.sampler.cli;
    opens erw.sampler.cli to info.picocli;
}
