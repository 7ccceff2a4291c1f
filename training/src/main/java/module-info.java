/** ERW training (data, phases, checkpoints) and the {@code erw} command line. */
module erw {
    requires transitive erw.sampler;
    requires info.picocli;
    requires commons.math3;
    requires org.knowm.xchart;
    requires java.desktop;
    requires java.management;
    requires com.fasterxml.jackson.databind;
    exports erw.cli;
    exports erw.training;
    opens erw.training to com.fasterxml.jackson.databind;
    exports erw.training.data;
    exports erw.training.run;
    exports erw.training.report;
    exports erw.training.eval;
    opens erw.cli to info.picocli;
}
