package erw.cli;

import erw.engine.cpu.CpuBackend;
import erw.model.Checkpoint;
import erw.model.ForwardTool;
import erw.model.SiT;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code erw forward}: the model on given inputs; with targets also the loss and every parameter's gradient. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = {"Evaluate a checkpoint on x (N,C,H,W), t (N), y (N) from a safetensors file; writes velocity and zs.",
                "With v_target, z_target and lambda in the input (metadata align = cosine|ntxent) it also writes loss, loss_v, loss_align and grad.<parameter>.",
                "The config comes from the checkpoint's erw.config metadata; a file without it needs --model NAME plus overrides (as erw sample)."})
public final class ForwardCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "Model checkpoint (safetensors, published parameter names).")
    Path checkpoint;

    @Option(names = "--input", required = true, description = "Input safetensors.")
    Path input;

    @Option(names = "--out", required = true, description = "Output safetensors.")
    Path out;

    @Option(names = "--ema", description = "Use the EMA weights (ema.<name> tensors) of a training checkpoint instead of the plain <name> ones.")
    boolean ema;

    @Mixin
    erw.sampler.cli.ModelOverrides overrides;

    @Override
    public Integer call() {
        SiT model = Checkpoint.load(checkpoint, ema, overrides.config());
        try (CpuBackend cpu = new CpuBackend()) {
            ForwardTool.run(model, input, out, cpu);
        }
        System.err.println("wrote " + out);
        return 0;
    }
}
