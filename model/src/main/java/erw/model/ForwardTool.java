package erw.model;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code erw forward}: evaluates a model on given inputs and, when targets are present, the training
 * loss and the gradient of every parameter - the debugging and interop tool that lets anyone check
 * erw against another implementation (the PyTorch reference in tools/torch writes the same names).
 *
 * <p>Input tensors: {@code x} (N,C,H,W), {@code t} (N), {@code y} (N); optional {@code v_target}
 * (N,C,H,W), {@code z_target} (N,T,Z), {@code lambda} (one element); metadata {@code align}
 * (cosine | ntxent), {@code ntxent_tau}, {@code ntxent_symmetric}. Output: {@code velocity},
 * {@code zs}, and with targets {@code loss}, {@code loss_v}, {@code loss_align}, {@code grad.<name>}.
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
        boolean targets = in.contains("v_target") && in.contains("z_target") && out.velocity() != null;
        Tensor loss = null, lossV = null, lossA = null;
        if (targets) {
            Tensor v = read(in, "v_target", Tensor.input("v_target", x.shape()));
            Tensor z = read(in, "z_target", Tensor.input("z_target", n, c.tokens(), c.zDim()));
            Tensor lambda = Tensor.scalar("lambda", in.contains("lambda") ? in.readFloats("lambda")[0] : 0.5f);
            String align = in.metadata().getOrDefault("align", "cosine");
            lossV = g.mse("loss_v", out.velocity(), v);
            lossA = switch (align) {
                case "cosine" -> g.cosineAlign("loss_align", out.zs(), z);
                case "ntxent" -> g.ntXentAlign("loss_align", out.zs(), z, n,
                        Float.parseFloat(in.metadata().getOrDefault("ntxent_tau", "0.1")),
                        Boolean.parseBoolean(in.metadata().getOrDefault("ntxent_symmetric", "false")));
                default -> throw new IllegalArgumentException(in.path() + ": metadata align = '" + align + "' must be cosine or ntxent");
            };
            loss = g.add("loss", lossV, g.scale("lambda*loss_align", lossA, 1f, lambda));
        }
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
        result.put("zs", Checkpoint.entry(out.zs()));
        if (loss != null) {
            result.put("loss", Checkpoint.entry(loss));
            result.put("loss_v", Checkpoint.entry(lossV));
            result.put("loss_align", Checkpoint.entry(lossA));
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
