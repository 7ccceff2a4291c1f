package erw.model;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code erw forward}: evaluates a model on given inputs and, when targets are present, the training
 * loss and the gradient of every parameter - the debugging and interop tool that lets anyone check
 * erw against another implementation (the PyTorch reference in tools/torch writes the same names).
 *
 * <p>Input tensors: {@code x} (N,C,H,W), {@code t} (N), {@code y} (N); optional {@code v_target}
 * (N,C,H,W), {@code z_target} (N,T,Z) and, for a model with more projectors, {@code z_target.k}
 * ((N,T,Z_k) per token, (N,Z_k) pooled), {@code lambda} and {@code w_diff} (one element each);
 * metadata {@code align} (cosine | ntxent), {@code ntxent_tau}, {@code ntxent_symmetric},
 * {@code coefs} ("1.0,0.5": one per projector), {@code time_weight} ({@link TimeWeight}) and
 * {@code time_cutoffs} ("lo,hi"). Output: {@code velocity}, {@code zs} ({@code zs.k}), and with
 * targets {@code loss}, {@code loss_v}, {@code loss_align} (the coefficient-weighted sum; with
 * several targets also each {@code loss_align.k}), {@code grad.<name>}. The loss is
 * {@link Objective}'s: {@code w_diff * loss_v + lambda * sum_k coef_k * mean_batch[w_t(t) align_k]}.
 */
public final class ForwardTool {
    private ForwardTool() {}

    /** Result tensors by name (also what {@link #run(SiT, Path, Path, Backend)} writes). */
    public static Map<String, SafeTensors.Tensor> evaluate(SiT model, SafeTensorsFile in, Backend backend) {
        SiTConfig c = model.config();
        Tensor x = read(in, "x", Tensor.input("x", shape4(in, "x")));
        int n = x.dim(0);
        int side = c.inputSize();
        MemoryBudget.require(MemoryBudget.times(8, ModelSizes.activationFloats(c, n)), "the forward (and backward) of " + n + " samples",
                "evaluate fewer samples per file, or give the JVM more heap (ERW_JAVA_OPTS=-Xmx...)");
        if (x.dim(1) != c.inChannels() || x.dim(2) != side || x.dim(3) != side) {
            throw new IllegalArgumentException(in.path() + ": x has shape " + x.shapeString() + ", the model expects (N, " + c.inChannels() + ", " + side + ", " + side + ")");
        }
        Tensor t = read(in, "t", Tensor.input("t", n));
        Tensor y = read(in, "y", Tensor.input("y", n));
        Graph g = new Graph("forward");
        SiT.Outputs out = model.forward(g, x, t, y);
        Map<String, SafeTensors.Tensor> result = new LinkedHashMap<>();
        List<SiTConfig.Projector> projectors = c.projectors();
        boolean targets = in.contains("v_target") && in.contains("z_target") && out.velocity() != null;
        Objective.Terms terms = null;
        if (targets) {
            Tensor v = read(in, "v_target", Tensor.input("v_target", x.shape()));
            Map<String, String> meta = in.metadata();
            double[] coefs = coefs(in, meta.get("coefs"), projectors.size());
            List<Objective.Target> list = new ArrayList<>();
            for (int k = 0; k < projectors.size(); k++) {
                String name = k == 0 ? "z_target" : "z_target." + k;
                SiTConfig.Projector p = projectors.get(k);
                Tensor z = p.pooled() ? Tensor.input(name, n, p.zDim()) : Tensor.input(name, n, c.tokens(), p.zDim());
                list.add(new Objective.Target(out.projections().get(k), read(in, name, z), coefs[k]));
            }
            Tensor lambda = Tensor.scalar("lambda", in.contains("lambda") ? in.readFloats("lambda")[0] : 0.5f);
            Tensor wDiff = in.contains("w_diff") ? read(in, "w_diff", Tensor.scalar("w_diff", 0)) : null;
            String align = meta.getOrDefault("align", "cosine");
            Objective.Align kind = switch (align) {
                case "cosine" -> new Objective.Align.Cosine();
                case "ntxent" -> new Objective.Align.NtXent(Float.parseFloat(meta.getOrDefault("ntxent_tau", "0.1")),
                        Boolean.parseBoolean(meta.getOrDefault("ntxent_symmetric", "false")));
                default -> throw new IllegalArgumentException(in.path() + ": metadata align = '" + align + "' must be cosine or ntxent");
            };
            Tensor wt = null;
            TimeWeight tw = TimeWeight.parse(meta.getOrDefault("time_weight", "constant"));
            if (tw != TimeWeight.CONSTANT) {
                double[] cut = cutoffs(in, meta.getOrDefault("time_cutoffs", "0,1"));
                wt = Tensor.input("w_t", n);
                tw.fill(t.data(), wt.data(), cut[0], cut[1]);
            }
            try {
                terms = Objective.record(g, out.velocity(), v, wDiff, list, kind, wt, lambda, n);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(in.path() + ": " + e.getMessage());
            }
        }
        Tensor loss = terms == null ? null : terms.loss();
        try (Plan f = backend.compile(g)) {
            f.run();
            if (loss != null) {
                for (Tensor p : model.parameters().trainable()) p.zeroGrad();
                try (Plan b = backend.compile(g.backward(loss))) {
                    b.run();
                }
            }
        }
        if (out.velocity() != null) result.put("velocity", Checkpoint.entry(out.velocity()));
        for (int k = 0; k < out.projections().size(); k++) result.put(k == 0 ? "zs" : "zs." + k, Checkpoint.entry(out.projections().get(k)));
        if (loss != null) {
            result.put("loss", Checkpoint.entry(loss));
            result.put("loss_v", Checkpoint.entry(terms.lossV()));
            result.put("loss_align", Checkpoint.entry(terms.lossAlign()));
            if (terms.alignTerms().size() > 1) {
                for (int k = 0; k < terms.alignTerms().size(); k++) result.put("loss_align." + k, Checkpoint.entry(terms.alignTerms().get(k)));
            }
            model.parameters().all().forEach((name, p) -> {
                if (p.requiresGrad()) {
                    long[] s = Arrays.stream(p.shape()).asLongStream().toArray();
                    result.put("grad." + name, new SafeTensors.Tensor(s, p.grad().clone()));
                }
            });
        }
        return result;
    }

    public static void run(SiT model, Path input, Path output, Backend backend) {
        try (SafeTensorsFile in = SafeTensors.open(input)) {
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put(Checkpoint.CONFIG_KEY, model.config().toJson());
            SafeTensors.write(output, evaluate(model, in, backend), meta);
        }
    }

    /** Metadata {@code coefs} "1.0,0.5": one finite coefficient >= 0 per projector (default all 1). */
    private static double[] coefs(SafeTensorsFile in, String spec, int k) {
        double[] c = new double[k];
        Arrays.fill(c, 1.0);
        if (spec == null) return c;
        String[] parts = spec.split(",");
        if (parts.length != k) throw new IllegalArgumentException(in.path() + ": metadata coefs = '" + spec + "' must give " + k + " coefficients, one per projector");
        for (int i = 0; i < k; i++) {
            try {
                c[i] = Double.parseDouble(parts[i].trim());
            } catch (NumberFormatException e) {
                c[i] = Double.NaN;
            }
            if (!(c[i] >= 0) || Double.isInfinite(c[i])) throw new IllegalArgumentException(in.path() + ": metadata coefs = '" + spec + "': '" + parts[i] + "' is not a number >= 0");
        }
        return c;
    }

    private static double[] cutoffs(SafeTensorsFile in, String spec) {
        String[] parts = spec.split(",");
        try {
            double lo = Double.parseDouble(parts[0].trim()), hi = Double.parseDouble(parts[1].trim());
            if (parts.length == 2 && lo <= hi) return new double[]{lo, hi};
        } catch (RuntimeException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(in.path() + ": metadata time_cutoffs = '" + spec + "' must be two numbers lo,hi with lo <= hi");
    }

    private static int[] shape4(SafeTensorsFile in, String name) {
        if (!in.contains(name)) throw new IllegalArgumentException(in.path() + ": missing input tensor '" + name + "'");
        long[] s = in.shape(name);
        if (s.length != 4) throw new IllegalArgumentException(in.path() + ": '" + name + "' must be (N, C, H, W), got " + Arrays.toString(s));
        for (long d : s) if (d < 1 || d > Integer.MAX_VALUE) throw new IllegalArgumentException(in.path() + ": '" + name + "' has shape " + Arrays.toString(s) + " (dimensions must be in [1, 2^31))");
        return new int[]{(int) s[0], (int) s[1], (int) s[2], (int) s[3]};
    }

    private static Tensor read(SafeTensorsFile in, String name, Tensor into) {
        if (!in.contains(name)) throw new IllegalArgumentException(in.path() + ": missing input tensor '" + name + "'");
        long numel = in.numel(name);
        if (numel != into.size()) {
            throw new IllegalArgumentException(in.path() + ": '" + name + "' has shape " + Arrays.toString(in.shape(name)) + ", expected " + into.shapeString());
        }
        in.readFloats(name, into.data(), 0);
        int bad = Checkpoint.firstNonFinite(into.data());
        if (bad >= 0) throw new IllegalArgumentException(in.path() + ": input '" + name + "' holds a non-finite value (" + into.data()[bad] + " at index " + bad + ")");
        return into;
    }
}
