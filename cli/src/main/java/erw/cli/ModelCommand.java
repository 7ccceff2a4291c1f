package erw.cli;

import erw.model.ModelSizes;
import erw.model.SiTConfig;
import erw.training.Phase;
import erw.training.PhaseProgram;
import erw.training.Recompute;
import erw.training.TrainConfig;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code erw model}: parameter counts and the planned memory of a training step, to size a GPU.
 * The step is recorded exactly as {@code erw train} records it (nothing is allocated) and laid out
 * by the engine's buffer planner, so the figure is what a run holds, not a formula.
 */
@Command(name = "model", mixinStandardHelpOptions = true, description = "Model facts: parameter counts and the planned memory of a training step per config.")
public final class ModelCommand implements Callable<Integer> {
    @Option(names = "--model", split = ",", description = "Configs to report (default: tiny and SiT-S/2, B/2, L/2, XL/2).")
    List<String> models = List.of("tiny", "SiT-S/2", "SiT-B/2", "SiT-L/2", "SiT-XL/2");

    @Option(names = "--batch", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch = 256;

    @Option(names = "--method", description = "erw | repa | reed | sit: which projectors and losses the step records (default ${DEFAULT-VALUE}).")
    String method = "erw";

    @Option(names = "--recompute", description = "none | blocks (default ${DEFAULT-VALUE}).")
    String recompute = "none";

    @Override
    public Integer call() {
        if (batch < 1) throw new IllegalArgumentException("--batch " + batch + " must be >= 1");
        Recompute rc = Recompute.parse(recompute);
        TrainConfig cfg = TrainConfig.defaults().with(b -> {
            b.method = method;
            b.batch = batch;
        });
        for (String m : models) {
            SiTConfig c = SiTConfig.named(m);
            System.out.print(report(m, c, cfg, rc));
        }
        return 0;
    }

    /** The planned memory of the full phase's step (ERW's warmup step is smaller: fewer blocks, no EMA). */
    static String report(String name, SiTConfig c, TrainConfig cfg, Recompute rc) {
        if (ModelSizes.trainingBytes(c, cfg.batch()) < 0) throw new IllegalArgumentException("--model " + name + " at --batch " + cfg.batch() + " needs more than 8 EiB");
        PhaseProgram.Memory mem = PhaseProgram.plannedMemory(c.full(), Phase.FULL, cfg, cfg.batch(), cfg.aligns(), rc);
        StringBuilder sb = new StringBuilder(String.format("%s at batch %d (%s, full phase, --recompute %s): %,d parameters (%,d without the projector), %d tokens%n",
                name, cfg.batch(), cfg.method().id(), rc.id(), ModelSizes.parameters(c), ModelSizes.parameters(c) - ModelSizes.projectorParameters(c), c.tokens()));
        var a = mem.activations();
        Object[][] rows = {
                {"parameters", mem.parameters(), ""},
                {"gradients", mem.gradients(), ""},
                {"AdamW moments (m, v)", mem.moments(), ""},
                {"EMA copy", mem.ema(), ""},
                {"batch and per-step state", mem.inputs(), ""},
                {"activations + gradients", a.activationBytes(), String.format("(%d arrays shared by %d tensors, %d private; %s without sharing)",
                        a.sharedArrays(), a.sharedTensors(), a.privateTensors(), ModelSizes.human(a.unsharedBytes()))},
        };
        for (Object[] r : rows) sb.append(String.format("  %-26s %12s  %s%n", r[0], ModelSizes.human((Long) r[1]), r[2]).stripTrailing()).append('\n');
        sb.append(String.format("  %-26s %12s%n", "planned peak (fp32)", ModelSizes.human(mem.total())));
        return sb.toString();
    }
}
