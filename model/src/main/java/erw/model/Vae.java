package erw.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.host.Philox;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Stable Diffusion VAE ({@code diffusers.AutoencoderKL}) as engine graphs, under diffusers'
 * parameter names, so that {@code diffusion_pytorch_model.safetensors} of {@code stabilityai/sd-vae-ft-mse}
 * loads as it is (the older attention names {@code query/key/value/proj_attn} too).
 *
 * <pre>
 * encoder: conv_in 3x3 -> per level: layers_per_block ResNet blocks, then (not at the last level) a
 *          stride-2 3x3 conv after padding (0, 1, 0, 1) -> mid: ResNet, attention, ResNet ->
 *          GroupNorm, SiLU, conv_out 3x3 to 2 * latent channels -> quant_conv 1x1 = moments [mean, logvar]
 * decoder: post_quant_conv 1x1 -> conv_in 3x3 -> mid: ResNet, attention, ResNet -> per level (widest
 *          first): layers_per_block + 1 ResNet blocks, then (not at the last level) nearest 2x
 *          upsampling and a 3x3 conv -> GroupNorm, SiLU, conv_out 3x3 to image channels
 * ResNet:  x -> GroupNorm, SiLU, conv 3x3, GroupNorm, SiLU, conv 3x3, plus x (a 1x1 conv_shortcut
 *          when the channels change)
 * attention: one head over the H*W positions: GroupNorm, to_q/to_k/to_v, softmax(q k^T / sqrt(C)) v,
 *          to_out.0, plus the input
 * </pre>
 * GroupNorms use eps 1e-6. The posterior is {@code mean, logvar = chunk(moments, 2)}, logvar clamped to
 * [-30, 20], {@code std = exp(logvar / 2)}; training latents are {@code scaling_factor * sample}, and
 * decoding divides by it first (diffusers' and REPA's convention).
 */
public final class Vae {
    public static final float GN_EPS = 1e-6f;

    /** Which half of the model to hold (a decoder alone needs about half the memory). */
    public enum Part {
        ENCODER, DECODER, BOTH;

        boolean encoder() { return this != DECODER; }
        boolean decoder() { return this != ENCODER; }
    }

    private final VaeConfig cfg;
    private final Part part;
    private final ParameterStore store = new ParameterStore();

    public Vae(VaeConfig cfg, Part part) {
        this.cfg = cfg;
        this.part = part;
        List<Integer> ch = cfg.blockOutChannels();
        int levels = cfg.levels(), last = ch.get(levels - 1), lat = cfg.latentChannels();
        if (part.encoder()) {
            conv("encoder.conv_in", ch.get(0), cfg.inChannels(), 3);
            for (int i = 0; i < levels; i++) {
                int cin = i == 0 ? ch.get(0) : ch.get(i - 1), cout = ch.get(i);
                for (int j = 0; j < cfg.layersPerBlock(); j++) resnet("encoder.down_blocks." + i + ".resnets." + j, j == 0 ? cin : cout, cout);
                if (i < levels - 1) conv("encoder.down_blocks." + i + ".downsamplers.0.conv", cout, cout, 3);
            }
            mid("encoder.mid_block", last);
            norm("encoder.conv_norm_out", last);
            conv("encoder.conv_out", 2 * lat, last, 3);
            conv("quant_conv", 2 * lat, 2 * lat, 1);
        }
        if (part.decoder()) {
            conv("post_quant_conv", lat, lat, 1);
            conv("decoder.conv_in", last, lat, 3);
            mid("decoder.mid_block", last);
            for (int i = 0; i < levels; i++) {
                int prev = ch.get(levels - 1 - Math.max(i - 1, 0)), cout = ch.get(levels - 1 - i);
                for (int j = 0; j <= cfg.layersPerBlock(); j++) resnet("decoder.up_blocks." + i + ".resnets." + j, j == 0 ? prev : cout, cout);
                if (i < levels - 1) conv("decoder.up_blocks." + i + ".upsamplers.0.conv", cout, cout, 3);
            }
            norm("decoder.conv_norm_out", ch.get(0));
            conv("decoder.conv_out", cfg.outChannels(), ch.get(0), 3);
        }
    }

    private void conv(String p, int out, int in, int k) {
        store.param(p + ".weight", out, in, k, k);
        store.param(p + ".bias", out);
    }

    private void norm(String p, int c) {
        store.param(p + ".weight", c);
        store.param(p + ".bias", c);
    }

    private void linear(String p, int out, int in) {
        store.param(p + ".weight", out, in);
        store.param(p + ".bias", out);
    }

    private void resnet(String p, int in, int out) {
        norm(p + ".norm1", in);
        conv(p + ".conv1", out, in, 3);
        norm(p + ".norm2", out);
        conv(p + ".conv2", out, out, 3);
        if (in != out) conv(p + ".conv_shortcut", out, in, 1);
    }

    private void mid(String p, int c) {
        resnet(p + ".resnets.0", c, c);
        norm(p + ".attentions.0.group_norm", c);
        for (String n : new String[]{"to_q", "to_k", "to_v", "to_out.0"}) linear(p + ".attentions.0." + n, c, c);
        resnet(p + ".resnets.1", c, c);
    }

    public VaeConfig config() {
        return cfg;
    }

    public Part part() {
        return part;
    }

    public ParameterStore parameters() {
        return store;
    }

    /** Random weights for tests and benchmarks: normal(0, 1/fan_in) weights, small biases, norms near 1 (Philox, stream = index). */
    public Vae initialize(long seed) {
        int stream = 0;
        for (var e : store.all().entrySet()) {
            Tensor t = e.getValue();
            float[] v = t.data();
            Philox.normal(seed, ++stream, 0, v, 0, v.length);
            boolean isNorm = e.getKey().contains("norm");
            boolean bias = e.getKey().endsWith(".bias");
            float s = bias ? 0.05f : isNorm ? 0.1f : (float) (1.0 / Math.sqrt(t.size() / (double) t.dim(0)));
            for (int i = 0; i < v.length; i++) v[i] = (isNorm && !bias ? 1f : 0f) + s * v[i];
        }
        return this;
    }

    // ---- loading -------------------------------------------------------------------------------

    /**
     * Loads a diffusers AutoencoderKL from its safetensors file (F32, F16 or BF16). The shape comes from
     * the tensors; {@code norm_num_groups} and {@code scaling_factor} from a {@code config.json} beside
     * the file when there is one, else from the file's metadata of those names, else 32 and 0.18215 (the
     * SD VAE's). Every problem (a missing or
     * mis-shaped tensor, a non-finite value) is reported in one message naming the file.
     */
    public static Vae load(Path file, Part part) {
        if (!Files.isRegularFile(file)) throw new SafeTensorsException(file + ": no such VAE file (expected a diffusers AutoencoderKL .safetensors, e.g. sd-vae-ft-mse's diffusion_pytorch_model.safetensors)");
        int groups = 32;
        float scale = VaeConfig.SD.scalingFactor();
        Path json = file.toAbsolutePath().getParent().resolve("config.json");
        if (Files.isRegularFile(json)) {
            try {
                JsonNode c = new ObjectMapper().readTree(json.toFile());
                if (c.has("norm_num_groups")) groups = c.get("norm_num_groups").asInt();
                if (c.has("scaling_factor")) scale = (float) c.get("scaling_factor").asDouble();
            } catch (IOException e) {
                throw new SafeTensorsException(json + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
            }
        }
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            if (!Files.isRegularFile(json)) { // else the file's own metadata, as erw's fixtures carry it
                try {
                    groups = Integer.parseInt(f.metadata().getOrDefault("norm_num_groups", "32"));
                    scale = Float.parseFloat(f.metadata().getOrDefault("scaling_factor", "0.18215"));
                } catch (NumberFormatException e) {
                    throw new SafeTensorsException(file + ": metadata norm_num_groups/scaling_factor is not a number: " + e.getMessage());
                }
            }
            VaeConfig cfg;
            try {
                cfg = VaeConfig.infer(f, groups, scale);
            } catch (IllegalArgumentException e) {
                throw new SafeTensorsException(file + ": " + e.getMessage());
            }
            Vae vae = new Vae(cfg, part);
            vae.loadFrom(f);
            return vae;
        }
    }

    /** diffusers before 0.14 named the attention projections query/key/value/proj_attn. */
    private static final Map<String, String> OLD_NAMES = Map.of("to_q", "query", "to_k", "key", "to_v", "value", "to_out.0", "proj_attn");

    private void loadFrom(SafeTensorsFile f) {
        List<String> problems = new ArrayList<>();
        for (var e : store.all().entrySet()) {
            String key = e.getKey();
            Tensor t = e.getValue();
            if (!f.contains(key)) {
                for (var old : OLD_NAMES.entrySet()) {
                    String alt = key.replace(".attentions.0." + old.getKey() + ".", ".attentions.0." + old.getValue() + ".");
                    if (!alt.equals(key) && f.contains(alt)) key = alt;
                }
            }
            if (!f.contains(key)) {
                problems.add("missing " + e.getKey() + " " + t.shapeString());
                continue;
            }
            // attention projections stored as 1x1 convs (C, C, 1, 1) have the linear's values
            if (f.numel(key) != t.size() || (f.shape(key).length != t.rank() && !key.contains(".attentions."))) {
                problems.add("shape of " + key + " is " + java.util.Arrays.toString(f.shape(key)) + ", expected " + t.shapeString());
                continue;
            }
            float[] v = f.readFloats(key);
            int bad = Checkpoint.firstNonFinite(v);
            if (bad >= 0) {
                problems.add(key + " holds a non-finite value at index " + bad);
                continue;
            }
            System.arraycopy(v, 0, t.data(), 0, v.length);
        }
        if (!problems.isEmpty()) {
            throw new SafeTensorsException(f.path() + ": " + problems.size() + " problem" + (problems.size() > 1 ? "s" : "") + " loading the VAE: "
                    + String.join("; ", problems.subList(0, Math.min(8, problems.size()))) + (problems.size() > 8 ? "; ..." : ""));
        }
    }

    // ---- recording -----------------------------------------------------------------------------

    private Tensor p(String name) {
        return store.get(name);
    }

    private Tensor conv(Graph g, String p, Tensor x, int pad) {
        return g.conv2d(p, x, p(p + ".weight"), p(p + ".bias"), 1, pad);
    }

    private Tensor gn(Graph g, String p, Tensor x) {
        return g.groupNorm(p, x, cfg.normGroups(), p(p + ".weight"), p(p + ".bias"), GN_EPS);
    }

    private Tensor resnet(Graph g, String p, Tensor x) {
        Tensor h = conv(g, p + ".conv1", g.silu(p + ".act1", gn(g, p + ".norm1", x)), 1);
        h = conv(g, p + ".conv2", g.silu(p + ".act2", gn(g, p + ".norm2", h)), 1);
        Tensor shortcut = store.contains(p + ".conv_shortcut.weight") ? conv(g, p + ".conv_shortcut", x, 0) : x;
        return g.add(p + ".residual", shortcut, h);
    }

    private Tensor attention(Graph g, String p, Tensor x) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor tokens = g.patchify(p + ".to_tokens", gn(g, p + ".group_norm", x), n, c, h, w, 1);
        Tensor q = g.linear(p + ".to_q", tokens, p(p + ".to_q.weight"), p(p + ".to_q.bias"));
        Tensor k = g.linear(p + ".to_k", tokens, p(p + ".to_k.weight"), p(p + ".to_k.bias"));
        Tensor v = g.linear(p + ".to_v", tokens, p(p + ".to_v.weight"), p(p + ".to_v.bias"));
        Tensor a = g.attention(p + ".attn", g.concat(p + ".qkv", List.of(q, k, v)), n, 1);
        Tensor o = g.linear(p + ".to_out.0", a, p(p + ".to_out.0.weight"), p(p + ".to_out.0.bias"));
        return g.add(p + ".residual", x, g.unpatchify(p + ".to_image", o, n, c, h, w, 1));
    }

    private Tensor mid(Graph g, String p, Tensor x) {
        return resnet(g, p + ".resnets.1", attention(g, p + ".attentions.0", resnet(g, p + ".resnets.0", x)));
    }

    /** Records the encoder: images (N, C, H, W), H and W multiples of {@link VaeConfig#downsampling()}, to moments (N, 2 * latent, H/f, W/f). */
    public Tensor encode(Graph g, Tensor images) {
        if (!part.encoder()) throw new IllegalStateException("this VAE was loaded without its encoder");
        int f = cfg.downsampling();
        if (images.rank() != 4 || images.dim(1) != cfg.inChannels() || images.dim(2) % f != 0 || images.dim(3) % f != 0) {
            throw new IllegalArgumentException("the VAE encodes (N, " + cfg.inChannels() + ", H, W) with H and W multiples of " + f + ", got " + images.shapeString());
        }
        Tensor h = conv(g, "encoder.conv_in", images, 1);
        for (int i = 0; i < cfg.levels(); i++) {
            for (int j = 0; j < cfg.layersPerBlock(); j++) h = resnet(g, "encoder.down_blocks." + i + ".resnets." + j, h);
            if (i < cfg.levels() - 1) {
                String p = "encoder.down_blocks." + i + ".downsamplers.0.conv";
                h = g.conv2d(p, h, p(p + ".weight"), p(p + ".bias"), 2, 0, 0, 1, 1);
            }
        }
        h = mid(g, "encoder.mid_block", h);
        h = conv(g, "encoder.conv_out", g.silu("encoder.conv_act", gn(g, "encoder.conv_norm_out", h)), 1);
        return conv(g, "quant_conv", h, 0);
    }

    /** Records the decoder: unscaled latents (N, latent, h, w) to images (N, C, h*f, w*f), about [-1, 1]. */
    public Tensor decode(Graph g, Tensor latents) {
        if (!part.decoder()) throw new IllegalStateException("this VAE was loaded without its decoder");
        if (latents.rank() != 4 || latents.dim(1) != cfg.latentChannels()) {
            throw new IllegalArgumentException("the VAE decodes (N, " + cfg.latentChannels() + ", h, w) latents, got " + latents.shapeString());
        }
        Tensor h = conv(g, "decoder.conv_in", conv(g, "post_quant_conv", latents, 0), 1);
        h = mid(g, "decoder.mid_block", h);
        for (int i = 0; i < cfg.levels(); i++) {
            for (int j = 0; j <= cfg.layersPerBlock(); j++) h = resnet(g, "decoder.up_blocks." + i + ".resnets." + j, h);
            if (i < cfg.levels() - 1) h = conv(g, "decoder.up_blocks." + i + ".upsamplers.0.conv", g.upsample("decoder.up_blocks." + i + ".upsample", h, 2), 1);
        }
        return conv(g, "decoder.conv_out", g.silu("decoder.conv_act", gn(g, "decoder.conv_norm_out", h)), 1);
    }

    // ---- running -------------------------------------------------------------------------------

    /**
     * A compiled encoder or decoder for a fixed chunk of samples at one size, run over any number of
     * samples chunk by chunk (the last chunk padded), so memory is that of one chunk whatever the count.
     */
    public final class Runner implements AutoCloseable {
        private final Tensor in, out;
        private final Plan plan;
        private final Backend backend;
        private final int chunk;

        private Runner(Backend backend, boolean decoder, int chunk, int height, int width) {
            this.backend = backend;
            this.chunk = chunk;
            Graph g = Graph.inference(decoder ? "vae.decode" : "vae.encode");
            in = Tensor.input(decoder ? "latents" : "images", chunk, decoder ? cfg.latentChannels() : cfg.inChannels(), height, width);
            out = decoder ? decode(g, in) : encode(g, in);
            g.readBack(out);
            plan = backend.compile(g);
        }

        /** Samples per compiled run. */
        public int chunk() {
            return chunk;
        }

        /** Floats per output sample. */
        public int outSize() {
            return out.size() / chunk;
        }

        /** Runs {@code n} samples from {@code src} (n * in-sample floats); {@code progress} is told the samples done. */
        public float[] run(float[] src, int n, java.util.function.IntConsumer progress) {
            int per = in.size() / chunk, outPer = outSize();
            if (src.length != (long) n * per) throw new IllegalArgumentException("expected " + n + " x " + per + " floats, got " + src.length);
            float[] res = new float[Math.multiplyExact(n, outPer)];
            for (int s = 0; s < n; s += chunk) {
                int m = Math.min(chunk, n - s);
                if (m < chunk) java.util.Arrays.fill(in.data(), m * per, chunk * per, 0f); // a short last chunk: zero padding
                System.arraycopy(src, s * per, in.data(), 0, m * per);
                plan.run();
                backend.syncToHost(List.of(out));
                System.arraycopy(out.data(), 0, res, s * outPer, m * outPer);
                if (progress != null) progress.accept(s + m);
            }
            return res;
        }

        @Override
        public void close() {
            plan.close();
        }
    }

    /** A decoder for latents (h, w) in chunks of {@code chunk} samples. */
    public Runner decoder(Backend backend, int chunk, int height, int width) {
        return new Runner(backend, true, chunk, height, width);
    }

    /** An encoder for images (H, W) in chunks of {@code chunk} samples. */
    public Runner encoder(Backend backend, int chunk, int height, int width) {
        return new Runner(backend, false, chunk, height, width);
    }

    /** Splits moments (N, 2L, h, w) into the posterior mean and std (logvar clamped to [-30, 20]), each (N, L, h, w). */
    public static float[][] posterior(float[] moments, int n, int latentChannels, int plane) {
        int per = latentChannels * plane;
        float[] mean = new float[n * per], std = new float[n * per];
        for (int i = 0; i < n; i++) {
            System.arraycopy(moments, i * 2 * per, mean, i * per, per);
            for (int j = 0; j < per; j++) {
                double logvar = Math.max(-30.0, Math.min(20.0, moments[i * 2 * per + per + j]));
                std[i * per + j] = (float) Math.exp(0.5 * logvar);
            }
        }
        return new float[][]{mean, std};
    }
}
