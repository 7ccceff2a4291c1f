package erw.cli;

import erw.model.ModelSizes;
import erw.model.SiTConfig;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code erw model info}: parameter counts and the memory of a training step, to size a GPU. */
@Command(name = "model", mixinStandardHelpOptions = true, description = "Model facts: parameter counts and training-step memory per config.")
public final class ModelCommand implements Callable<Integer> {
    @Option(names = "--model", split = ",", description = "Configs to report (default: tiny and SiT-S/2, B/2, L/2, XL/2).")
    List<String> models = List.of("tiny", "SiT-S/2", "SiT-B/2", "SiT-L/2", "SiT-XL/2");

    @Option(names = "--batch", description = "Batch size for the activation estimate (default ${DEFAULT-VALUE}).")
    long batch = 256;

    @Override
    public Integer call() {
        if (batch < 1) throw new IllegalArgumentException("--batch " + batch + " must be >= 1");
        for (String m : models) {
            SiTConfig c = SiTConfig.named(m);
            System.out.print(ModelSizes.report(m, c, batch));
        }
        return 0;
    }
}
