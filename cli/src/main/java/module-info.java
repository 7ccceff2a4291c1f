/** The {@code erw} command line: picocli commands over the training, sampler and model libraries. */
module erw {
    requires transitive erw.training;
    requires erw.distributed;
    requires transitive erw.sampler.cli;
    requires info.picocli;
    requires java.management;
    requires com.fasterxml.jackson.databind;
    exports erw.cli;
    opens erw.cli to info.picocli;
}
