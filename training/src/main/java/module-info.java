/**
 * ERW training as a library: data (dataset directories, the built-in Fashion-MNIST pipeline),
 * recipes, phases, checkpoints and resume, run directories and their artifacts, evaluation. No
 * argument parsing here: the {@code erw} module is the command line over this API.
 */
module erw.training {
    requires transitive erw.sampler;
    requires commons.math3;
    requires org.knowm.xchart;
    requires java.desktop;
    requires java.management;
    requires com.fasterxml.jackson.databind;
    exports erw.training;
    opens erw.training to com.fasterxml.jackson.databind;
    exports erw.training.data;
    exports erw.training.run;
    exports erw.training.report;
    exports erw.training.eval;
}
