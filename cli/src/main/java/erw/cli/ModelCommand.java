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

    @Option(names = "--roofline", description = "Also the step's flops and bytes per op type and a roofline estimate of its time on an NVIDIA H200 "
            + "(fp32 on CUDA cores, TF32 and bf16 on tensor cores; ops not fused).")
    boolean roofline;

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
            if (roofline) System.out.print(roofline(m, c, cfg, rc, H200));
        }
        return 0;
    }

    /** A device's peaks: fp32 on CUDA cores, TF32 and bf16 (dense) on tensor cores, in FLOP/s; memory bandwidth in bytes/s. */
    record Device(String name, double fp32, double tf32, double bf16, double bandwidth) {}

    /** NVIDIA's H200 SXM data sheet: 67 TFLOP/s fp32, 494.7 TF32 and 989.4 bf16 tensor TFLOP/s without sparsity, 4.8 TB/s HBM3e. */
    static final Device H200 = new Device("NVIDIA H200 SXM", 67e12, 494.7e12, 989.4e12, 4.8e12);

    /**
     * The full phase's step per op type: flops, bytes (fp32 and bf16 activations) and its roofline time in
     * each precision: GEMM-shaped ops at max(flops / tensor or CUDA-core peak, bytes / bandwidth), the others
     * at max(flops / fp32 peak, bytes / bandwidth). A bound: no launch overhead, every op at its peak.
     */
    static String roofline(String name, SiTConfig c, TrainConfig cfg, Recompute rc, Device d) {
        List<erw.engine.Workload.Row> f32 = PhaseProgram.workload(c.full(), Phase.FULL, cfg, cfg.batch(), cfg.aligns(), rc, 4);
        List<erw.engine.Workload.Row> b16 = PhaseProgram.workload(c.full(), Phase.FULL, cfg, cfg.batch(), cfg.aligns(), rc, 2);
        double[] peaks = {d.fp32(), d.tf32(), d.bf16()};
        double[] total = new double[3], gemm = new double[3];
        long flops = 0, ops = 0;
        StringBuilder sb = new StringBuilder(String.format("%s at batch %d on an %s, roofline per op (time = max(flops / peak, bytes / %.1f TB/s), ops not fused):%n",
                name, cfg.batch(), d.name(), d.bandwidth() / 1e12));
        sb.append(String.format("  %-26s %6s %10s %9s %9s %9s %9s %9s%n", "op type", "ops", "GFLOP", "GB fp32", "GB bf16", "ms fp32", "ms tf32", "ms bf16"));
        for (int i = 0; i < f32.size(); i++) {
            erw.engine.Workload.Row a = f32.get(i), b = b16.get(i);
            double[] ms = new double[3];
            for (int p = 0; p < 3; p++) {
                double peak = a.gemm() ? peaks[p] : d.fp32();
                long bytes = p == 2 ? b.bytes() : a.bytes();
                ms[p] = 1e3 * Math.max(a.flops() / peak, bytes / d.bandwidth());
                total[p] += ms[p];
                if (a.gemm()) gemm[p] += ms[p];
            }
            flops += a.flops();
            ops += a.count();
            if (ms[0] < 0.005 && ms[2] < 0.005) continue; // below 5 us in every precision: left out of the table, counted in the total
            sb.append(String.format("  %-26s %6d %10.1f %9.3f %9.3f %9.3f %9.3f %9.3f%n", a.type() + (a.gemm() ? " *" : ""), a.count(), a.flops() / 1e9,
                    a.bytes() / 1e9, b.bytes() / 1e9, ms[0], ms[1], ms[2]));
        }
        sb.append(String.format("  %-26s %6d %10.1f %9s %9s %9.3f %9.3f %9.3f%n", "step", ops, flops / 1e9, "", "", total[0], total[1], total[2]));
        sb.append(String.format("  img/s at the bound: fp32 %.0f, tf32 %.0f, bf16 %.0f; GEMM-shaped ops (*) %.0f%% / %.0f%% / %.0f%% of the time; "
                        + "%d ops, so at ~3 us of launch each %.1f ms more per step unless replayed as a CUDA graph%n",
                cfg.batch() / total[0] * 1e3, cfg.batch() / total[1] * 1e3, cfg.batch() / total[2] * 1e3,
                100 * gemm[0] / total[0], 100 * gemm[1] / total[1], 100 * gemm[2] / total[2], ops, ops * 3e-3));
        return sb.toString();
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
